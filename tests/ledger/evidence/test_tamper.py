"""The tamper corpus: one defect per fixture, each caught by ``ledger verify`` and by reads.

Every fixture below is named after its defect. It builds the same small history (three
projects of four entries, filed round-robin so the streams interleave in the log), writes one
defect straight into the database with :class:`tampering.Tamperer` (raw SQL, no ledger code),
and returns what must be found: the failure ``verify_ledger`` must report first (and others it
must also report), and the error a verified read of the stream must raise.

Reads check hashes, links and the newest entry against the latest signed checkpoint; they do
not check signatures (docs/design.md: no per-event signature check on the hot path). So a re-signed
entry is caught by reads through its changed bytes (chain or leaf), and a backdated key
revocation only by ``verify``. Reads prove the *newest* entry of a stream, so an edit of a
middle entry is named at the entry after it (the first whose ``prev`` no longer matches).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest
from tampering import Tamperer
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.app import Ledger, Receipt, key_id_for
from ledger.errors import (
    ChainBrokenError,
    CheckpointError,
    DocumentAlteredError,
    EntryHashMismatchError,
    IntegrityFailedError,
    MalformedEntryError,
    ProofError,
)
from ledger.evidence.verify import Failure, LedgerVerifier, VerifyReport, verify_ledger
from ledger.log import merkle
from ledger.log.entries import TOO_DEEP
from ledger.log.headmap import StreamHead, head_key, leaf_hash, node_hash, value_hash
from ledger.log.merkle import NodeId
from ledger.log.verify_heads import pack_groups
from ledger.measures.catalogue import EXAMPLES
from ledger.settings import Settings
from ledgertest import run_sql

# --- the history every defect is written into --------------------------------------------------

OPENERS = {"A": "edu-wang", "B": "health-chen", "C": "edu-wang"}
"""Project name → the unit actor that opened it (and files its unit filings)."""

ROUNDS = (
    ("ApplicationFiled", None),
    ("ReviewOpinionIssued", "office-li"),
    ("ContractFiled", None),
    ("ProgressReported", None),
)
"""One filing per project per round; ``None`` means the project's own unit files it."""

ENTRIES_PER_STREAM = len(ROUNDS)


@dataclass(frozen=True)
class History:
    """Where every entry of the history landed."""

    receipts: dict[tuple[str, int], Receipt]

    def stream(self, name: str) -> UUID:
        """A project's stream id."""
        return self.receipts[name, 1].stream

    def leaf(self, name: str, seq: int) -> int:
        """The leaf index of a project's entry."""
        return self.receipts[name, seq].leaf_index

    @property
    def size(self) -> int:
        """The log's size after the history."""
        return max(r.leaf_index for r in self.receipts.values()) + 1


def build_history(ledger: Ledger) -> History:
    """Three projects, four entries each, interleaved round-robin in the log."""
    receipts: dict[tuple[str, int], Receipt] = {}
    for seq, (event_type, filer) in enumerate(ROUNDS, start=1):
        for name, opener in OPENERS.items():
            stream = None if seq == 1 else receipts[name, 1].stream
            receipts[name, seq] = ledger.file(filer or opener, event_type, EXAMPLES[event_type],
                                              stream=stream)
    return History(receipts)


# --- what each defect must produce ---------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A failure ``verify_ledger`` must report; ``None`` fields are not compared."""

    check: str
    leaf_index: int | None = None
    stream: UUID | None = None
    seq: int | None = None
    message: str = ""

    def matches(self, failure: Failure | None) -> bool:
        """True iff ``failure`` is this finding."""
        return failure is not None and failure.check == self.check and (
            self.leaf_index is None or failure.leaf_index == self.leaf_index
        ) and (self.stream is None or failure.stream == str(self.stream)) and (
            self.seq is None or failure.seq == self.seq
        ) and self.message in failure.message


@dataclass(frozen=True)
class ReadFailure:
    """What a verified read of ``stream`` must raise; ``None`` fields are not compared."""

    error: type[IntegrityFailedError]
    stream: UUID
    seq: int | None
    leaf_index: int | None = None
    names_stream: bool = True


@dataclass(frozen=True)
class Defect:
    """The expected findings of one defect."""

    first: Finding
    also: tuple[Finding, ...] = ()
    only_checks: frozenset[str] | None = None
    read: ReadFailure | None = None
    """None: a stream read cannot see this defect (the fixture says why); verify must."""


def _entry(check: str, history: History, name: str, seq: int, message: str = "") -> Finding:
    return Finding(check, history.leaf(name, seq), history.stream(name), seq, message)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def history(ledger: Ledger) -> History:
    """The ledger fixture's actors plus three interleaved four-entry projects."""
    return build_history(ledger)


@pytest.fixture
def tamper(ledger: Ledger, settings: Settings) -> Tamperer:
    """Raw write access to the test database."""
    return Tamperer(settings.database_url, ledger.identity.profile)


@pytest.fixture
def payload_byte_edited(history: History, tamper: Tamperer) -> Defect:
    """One payload byte of a middle entry (project A, seq 2) changed in the database."""
    tamper.edit_payload_byte(history.stream("A"), 2)
    return Defect(
        first=_entry("hash", history, "A", 2),
        # The author's signature covered the edited byte too.
        also=(_entry("signature", history, "A", 2), _entry("chain", history, "A", 3)),
        only_checks=frozenset({"hash", "signature", "chain"}),
        # The read breaks at seq 3's link and then names the edited entry from its leaf.
        read=ReadFailure(EntryHashMismatchError, history.stream("A"), 2, history.leaf("A", 2)),
    )


@pytest.fixture
def newest_payload_byte_edited(history: History, tamper: Tamperer) -> Defect:
    """One payload byte of a stream's newest entry (project B, seq 4) changed."""
    tamper.edit_payload_byte(history.stream("B"), 4)
    return Defect(
        first=_entry("hash", history, "B", 4),
        also=(_entry("signature", history, "B", 4),),
        only_checks=frozenset({"hash", "signature"}),
        read=ReadFailure(EntryHashMismatchError, history.stream("B"), 4, history.leaf("B", 4)),
    )


@pytest.fixture
def chain_gap(history: History, tamper: Tamperer) -> Defect:
    """A middle entry (project A, seq 2) deleted; its leaf stays."""
    tamper.delete_entry(history.stream("A"), 2)
    return Defect(
        first=_entry("entry", history, "A", 2, "missing"),
        also=(_entry("chain", history, "A", 3), Finding("entry", message="stored entries")),
        # The read sees "seq 3 follows seq 1" and names the missing entry.
        read=ReadFailure(ChainBrokenError, history.stream("A"), 2),
    )


@pytest.fixture
def chain_gap_with_leaf(history: History, tamper: Tamperer) -> Defect:
    """A middle entry (project A, seq 2) deleted together with its log leaf."""
    tamper.delete_entry(history.stream("A"), 2, with_leaf=True)
    gap = history.leaf("A", 2)
    return Defect(
        # The first failure names the missing leaf, once.
        first=Finding("leaves", gap, message=f"leaves {gap}..{gap} are missing"),
        also=(_entry("chain", history, "A", 3),),
        read=ReadFailure(ChainBrokenError, history.stream("A"), 2),
    )


@pytest.fixture
def stream_truncated(history: History, tamper: Tamperer) -> Defect:
    """Project A's newest entries (seq 3 and 4) deleted; their leaves stay."""
    assert tamper.truncate(history.stream("A"), keep=2) == 2
    return Defect(
        first=_entry("entry", history, "A", 3, "missing"),
        also=(_entry("entry", history, "A", 4, "missing"),),
        # check_head: "the stream ends at seq 2 but its newest leaf is seq 4"; it names the
        # first missing entry.
        read=ReadFailure(ChainBrokenError, history.stream("A"), 3),
    )


@pytest.fixture
def stream_truncated_with_leaves(history: History, tamper: Tamperer) -> Defect:
    """Project A's newest entries deleted together with their leaves (not the log's tail).

    A stream read cannot see this: the stream's remaining entries chain, its newest remaining
    leaf holds its head, and that leaf is still included in the signed checkpoint through the
    stored nodes. Only the whole-log check sees the holes in the leaf sequence.
    """
    tamper.truncate(history.stream("A"), keep=2, with_leaves=True)
    gap = history.leaf("A", 3)
    return Defect(first=Finding("leaves", gap, message=f"leaves {gap}..{gap} are missing"))


@pytest.fixture
def entries_swapped(history: History, tamper: Tamperer) -> Defect:
    """Project A's seq 2 and seq 3 exchanged (bytes and topic), each keeping its row."""
    tamper.swap(history.stream("A"), 2, 3)
    return Defect(
        first=_entry("hash", history, "A", 2),
        also=(_entry("entry", history, "A", 2, "seq 3"), _entry("hash", history, "A", 3),
              _entry("entry", history, "A", 3, "seq 2")),
        read=ReadFailure(MalformedEntryError, history.stream("A"), 2),
    )


@pytest.fixture
def entry_nested_too_deeply(history: History, tamper: Tamperer) -> Defect:
    """Project A's seq 2 replaced by JSON nested 100,000 deep (past any parser's stack): the
    checks name it, rather than stop with the parser's RecursionError."""
    depth = 100_000
    tamper.set_state(history.stream("A"), 2, b'{"filing":' + b"[" * depth + b"]" * depth + b"}")
    return Defect(
        first=_entry("hash", history, "A", 2),
        also=(_entry("entry", history, "A", 2, TOO_DEEP), _entry("chain", history, "A", 3)),
        only_checks=frozenset({"hash", "entry", "chain"}),
        read=ReadFailure(MalformedEntryError, history.stream("A"), 2),
    )


def _resigned(history: History, *, check: str, message: str) -> Defect:
    """Project A's seq 3 was edited and re-signed: the chain and the leaf still catch it."""
    return Defect(
        first=_entry("hash", history, "A", 3),
        also=(_entry(check, history, "A", 3, message), _entry("chain", history, "A", 4)),
        only_checks=frozenset({"hash", "chain", check}),
        read=ReadFailure(EntryHashMismatchError, history.stream("A"), 3, history.leaf("A", 3)),
    )


def _key_of(ledger: Ledger, actor: str) -> str:
    return ledger.registry().current_key(actor, ledger.now()).key_id


@pytest.fixture
def entry_resigned_wrong_key(history: History, ledger: Ledger, tamper: Tamperer) -> Defect:
    """Tamper, then re-sign with another actor's key (the filing still names its own key)."""
    signer = ledger.custody.signer(_key_of(ledger, "office-li"))
    tamper.resign(history.stream("A"), 3, signer)
    return _resigned(history, check="signature", message="does not verify")


@pytest.fixture
def entry_resigned_other_actors_key(history: History, ledger: Ledger,
                                    tamper: Tamperer) -> Defect:
    """Tamper, then re-sign with another actor's key, naming that key in the filing."""
    key_id = _key_of(ledger, "office-li")
    tamper.resign(history.stream("A"), 3, ledger.custody.signer(key_id), key_id=key_id)
    return _resigned(history, check="key", message="belongs to 'office-li'")


@pytest.fixture
def entry_resigned_unregistered_key(history: History, ledger: Ledger,
                                    tamper: Tamperer) -> Defect:
    """Tamper, then re-sign with a fresh key that was never registered, naming it."""
    profile = ledger.identity.profile
    fresh = profile.signature.generate()
    tamper.resign(history.stream("A"), 3, fresh,
                  key_id=key_id_for("edu-wang", fresh.public_key, profile))
    return _resigned(history, check="key", message="not in the registry")


@pytest.fixture
def entry_resigned_unregistered_key_same_id(history: History, ledger: Ledger,
                                            tamper: Tamperer) -> Defect:
    """Tamper, then re-sign with a fresh unregistered key, still naming the author's key."""
    tamper.resign(history.stream("A"), 3, ledger.identity.profile.signature.generate())
    return _resigned(history, check="signature", message="does not verify")


@pytest.fixture
def entry_resigned_and_rechained(history: History, ledger: Ledger, tamper: Tamperer) -> Defect:
    """An insider with the author's key: edit, re-sign validly, relink, fix leaves and tree.

    Every signature verifies and every link and leaf is consistent; only the signed
    checkpoints (whose key the attacker lacks) still commit to the original entries.
    """
    stream = history.stream("A")
    tamper.resign(stream, 3, ledger.custody.signer(_key_of(ledger, "edu-wang")))
    tamper.rechain(stream, 3)
    tamper.rebuild_tree()
    return Defect(
        # The first checkpoint that no longer matches is the one taken right after seq 3.
        first=Finding("checkpoint", history.leaf("A", 3), message="root differs"),
        # The stream heads map (its stored nodes and the checkpoints' heads lines) still
        # holds the original entry hashes as well.
        only_checks=frozenset({"checkpoint", "heads"}),
        read=ReadFailure(ProofError, stream, 4, history.leaf("A", 4)),
    )


@pytest.fixture
def signed_with_revoked_key(history: History, ledger: Ledger) -> Defect:
    """edu-wang's key revoked from before its later entries (a compromise found later).

    Reads do not check signatures or keys, so only verify can report these entries.
    """
    since = history.receipts["A", 3].recorded_at
    ledger.revoke_key(_key_of(ledger, "edu-wang"), revoked_from=since,
                      reason="key compromise discovered")
    affected = sorted(
        (r.leaf_index, name, seq) for (name, seq), r in history.receipts.items()
        if OPENERS[name] == "edu-wang" and ROUNDS[seq - 1][1] is None and r.recorded_at >= since
    )
    assert len(affected) >= 2
    return Defect(
        first=_entry("key", history, "A", 3, "revoked from"),
        also=tuple(_entry("key", history, name, seq, "revoked from")
                   for _, name, seq in affected),
        only_checks=frozenset({"key"}),
    )


@pytest.fixture
def leaf_altered(history: History, tamper: Tamperer) -> Defect:
    """One bit of the log leaf of a stream's newest entry (project B, seq 4) flipped."""
    leaf = history.leaf("B", 4)
    tamper.alter_leaf(leaf)
    return Defect(
        first=_entry("hash", history, "B", 4),
        also=(Finding("tree", message=str(NodeId(0, leaf))),
              Finding("checkpoint", history.size - 1)),
        read=ReadFailure(EntryHashMismatchError, history.stream("B"), 4, leaf),
    )


@pytest.fixture
def middle_leaf_altered(history: History, tamper: Tamperer) -> Defect:
    """One bit of the log leaf of a middle entry (project A, seq 2) flipped.

    A stream read compares only the newest entry with its leaf (the others are bound by the
    chain), so it cannot see this; verify must, naming this leaf first. (Found failing: verify
    attributes each differing tree node to its first leaf, ``node.start``, so the 16-leaf node
    above this leaf makes ``report.first`` name leaf 0, an untouched registry entry.)
    """
    leaf = history.leaf("A", 2)
    tamper.alter_leaf(leaf)
    return Defect(
        first=_entry("hash", history, "A", 2),
        also=(Finding("tree", message=str(NodeId(0, leaf))),),
    )


@pytest.fixture
def leaf_time_altered(history: History, tamper: Tamperer) -> Defect:
    """A leaf's ``recorded_at`` column backdated (it is not hashed into the tree).

    Stream reads do not use the leaf's time; verify compares it with the entry's.
    """
    tamper.backdate_leaf(history.leaf("A", 2), "2020-01-01T00:00:00.000000Z")
    return Defect(first=_entry("time", history, "A", 2, "differs from its leaf"),
                  only_checks=frozenset({"time"}))


@pytest.fixture
def checkpoint_root_altered(history: History, tamper: Tamperer) -> Defect:
    """The latest checkpoint's stored root (not its signed note) altered."""
    size = history.size
    tamper.alter_checkpoint(size, root=True)
    return Defect(
        first=Finding("checkpoint", size - 1, message=f"checkpoint {size}"),
        also=(Finding("checkpoint", message="differ from the signed note"),),
        only_checks=frozenset({"checkpoint"}),
        read=ReadFailure(CheckpointError, history.stream("A"), None, names_stream=False),
    )


@pytest.fixture
def checkpoint_note_altered(history: History, tamper: Tamperer) -> Defect:
    """The root written in the latest checkpoint's signed note altered (signature kept)."""
    size = history.size
    tamper.alter_checkpoint(size, note=True)
    return Defect(
        first=Finding("checkpoint", message=f"checkpoint {size}: "),
        only_checks=frozenset({"checkpoint"}),
        read=ReadFailure(CheckpointError, history.stream("A"), None, names_stream=False),
    )


@pytest.fixture
def checkpoint_resigned_wrong_key(history: History, ledger: Ledger,
                                  tamper: Tamperer) -> Defect:
    """The latest checkpoint's note altered and re-signed, under the log's name, by a fresh key."""
    size = history.size
    tamper.alter_checkpoint(size, resign_with=ledger.identity.profile.signature.generate())
    return Defect(
        first=Finding("checkpoint", message=f"checkpoint {size}: "),
        only_checks=frozenset({"checkpoint"}),
        read=ReadFailure(CheckpointError, history.stream("A"), None, names_stream=False),
    )


@pytest.fixture
def node_altered(history: History, tamper: Tamperer) -> Defect:
    """One stored Merkle node on project A's head inclusion path altered."""
    head = history.leaf("A", ENTRIES_PER_STREAM)
    node = max(merkle.nodes_needed(merkle.inclusion_ranges(head, history.size)))
    assert node.level >= 1
    tamper.alter_node(node.level, node.index)
    return Defect(
        first=Finding("tree", node.start, message=f"stored node {node} differs"),
        only_checks=frozenset({"tree"}),
        read=ReadFailure(ProofError, history.stream("A"), ENTRIES_PER_STREAM, head),
    )


def _head_leaf_row(tamper: Tamperer, ledger: Ledger, stream: UUID,
                   version: int) -> tuple[int, bytes]:
    """The (depth, prefix) of the stored heads map row (a node group) holding ``stream``'s
    leaf written at ``version``."""
    key = head_key(ledger.identity.profile, stream)
    found = [(depth, prefix) for depth, prefix, v, node in tamper.head_nodes()
             if v == version and b"\x00" + key in node]
    assert len(found) == 1
    return found[0]


@pytest.fixture
def head_node_altered(history: History, ledger: Ledger, tamper: Tamperer) -> Defect:
    """Project A's stored heads map leaf, as its last filing's batch wrote it, altered (its
    leaf index). Checkpoints are untouched; reads do not use the map."""
    version = history.leaf("A", ENTRIES_PER_STREAM) + 1  # a filing per batch
    depth, prefix = _head_leaf_row(tamper, ledger, history.stream("A"), version)
    tamper.alter_head_node(depth, prefix, version,
                           key=head_key(ledger.identity.profile, history.stream("A")))
    return Defect(
        first=Finding("heads", version - 1, history.stream("A"),
                      message=f"stored heads map at version {version} differs"),
        only_checks=frozenset({"heads"}),
    )


@pytest.fixture
def head_node_stored_twice(history: History, ledger: Ledger, tamper: Tamperer) -> Defect:
    """A second, altered row for the node group holding project A's last head, beside the
    right one (the table's primary key dropped): verify compares a dict of the rows, so it
    must count them too."""
    version = history.leaf("A", ENTRIES_PER_STREAM) + 1
    depth, prefix = _head_leaf_row(tamper, ledger, history.stream("A"), version)
    tamper.store_twice("head_nodes", {"depth": depth, "prefix": prefix, "version": version},
                       "node")
    return Defect(
        first=Finding("heads", version - 1, message=f"at version {version} repeat another's"
                      " position"),
        only_checks=frozenset({"heads"}),
    )


@pytest.fixture
def node_stored_twice(history: History, tamper: Tamperer) -> Defect:
    """A second, altered row for a stored Merkle node on project A's head inclusion path
    (the table's primary key dropped)."""
    head = history.leaf("A", ENTRIES_PER_STREAM)
    node = max(merkle.nodes_needed(merkle.inclusion_ranges(head, history.size)))
    tamper.store_twice("log_nodes", {"level": node.level, "idx": node.index}, "hash")
    return Defect(
        first=Finding("tree", node.start, message=f"stored node {node} is stored twice"),
        only_checks=frozenset({"tree"}),
    )


@pytest.fixture
def checkpoint_resigned_wrong_heads(history: History, ledger: Ledger,
                                    tamper: Tamperer) -> Defect:
    """The latest checkpoint re-signed with the log's own key over a wrong heads root: a log
    that signs a map its entries do not give. Reads check the signature, which holds."""
    size = history.size
    tamper.resign_heads_line(size, ledger.custody.signer("log"))
    return Defect(
        first=Finding("heads", size - 1, message=f"checkpoint {size}'s heads root"),
        also=(Finding("heads", message="the stored map agrees with the entries"),),
        only_checks=frozenset({"heads"}),
    )


@pytest.fixture
def head_hidden_and_resigned(history: History, ledger: Ledger, tamper: Tamperer) -> Defect:
    """The log lies about project C's head: its stored leaf set back to seq 3 and the latest
    checkpoint re-signed (log key) over the root that gives, as a log would to let a bundle
    leave out C's newest entry. ``ledger verify`` names C."""
    size = history.size
    stream = history.stream("C")
    assert history.leaf("C", ENTRIES_PER_STREAM) == size - 1  # C filed last
    head, proof = ledger.log.head_proof(stream, size)
    assert head is not None
    hidden = history.receipts["C", ENTRIES_PER_STREAM - 1]
    lie = StreamHead(hidden.seq, bytes.fromhex(hidden.entry_hash), hidden.leaf_index)
    lied_root = _fold(ledger, stream, lie, proof.siblings)
    depth, prefix = _head_leaf_row(tamper, ledger, stream, size)
    assert depth < len(proof.siblings) <= depth + 4  # the leaf is in its row's group
    tamper.set_head_node(depth, prefix, size, head_key(ledger.identity.profile, stream), lie)
    tamper.resign_heads_line(size, ledger.custody.signer("log"), root=lied_root)
    return Defect(
        first=Finding("heads", size - 1, stream, message=f"version {size}"),
        also=(Finding("heads", size - 1, stream, message=f"checkpoint {size}'s heads root"),),
        only_checks=frozenset({"heads"}),
    )


def _fold(ledger: Ledger, stream: UUID, head: StreamHead, siblings: tuple[bytes, ...]) -> bytes:
    """The heads root a path of ``siblings`` gives with ``head`` as the stream's leaf."""
    profile = ledger.identity.profile
    key = head_key(profile, stream)
    node = leaf_hash(profile, key, value_hash(profile, head))
    bits = int.from_bytes(key, "big")
    depth = len(siblings)
    for i, sibling in enumerate(siblings):
        if (bits >> (255 - (depth - 1 - i))) & 1:
            node = node_hash(profile, sibling, node)
        else:
            node = node_hash(profile, node, sibling)
    return node


READ_DETECTED = [
    "payload_byte_edited",
    "newest_payload_byte_edited",
    "chain_gap",
    "chain_gap_with_leaf",
    "stream_truncated",
    "entries_swapped",
    "entry_nested_too_deeply",
    "entry_resigned_wrong_key",
    "entry_resigned_other_actors_key",
    "entry_resigned_unregistered_key",
    "entry_resigned_unregistered_key_same_id",
    "entry_resigned_and_rechained",
    "leaf_altered",
    "checkpoint_root_altered",
    "checkpoint_note_altered",
    "checkpoint_resigned_wrong_key",
    "node_altered",
]
VERIFY_ONLY = [
    "stream_truncated_with_leaves",  # the stream is consistent on its own (see the fixture)
    "signed_with_revoked_key",  # reads do not check signatures or keys
    "middle_leaf_altered",  # reads compare only the newest entry with its leaf
    "leaf_time_altered",  # reads do not use the leaf's time
    "head_node_altered",  # reads do not use the heads map
    "checkpoint_resigned_wrong_heads",  # ... nor the checkpoint's heads line
    "head_hidden_and_resigned",
    "head_node_stored_twice",  # reads do not use the heads map
    "node_stored_twice",  # a read may meet either row
]


# --- the tests -----------------------------------------------------------------------------------


def _verify(ledger: Ledger) -> VerifyReport:
    return verify_ledger(ledger.log, ledger.identity, workers=1)


def _described(report: VerifyReport) -> list[str]:
    return [f.describe() for f in report.failures]


def test_untampered_ledger_verifies_and_reads_clean(
        history: History, ledger: Ledger, make_ledger: Callable[..., Ledger]) -> None:
    report = _verify(ledger)
    assert report.ok, _described(report)
    assert report.entries == history.size
    assert report.streams == len(OPENERS) + 1  # the projects and the key registry
    assert report.checkpoints > 0
    assert report.nodes > 0
    reader = make_ledger()
    for name in OPENERS:
        stream = history.stream(name)
        assert reader.project(stream).version == ENTRIES_PER_STREAM
        events = reader.events_of(stream)
        assert [e.entry_hash for e in events] == [
            history.receipts[name, seq].entry_hash for seq in range(1, ENTRIES_PER_STREAM + 1)]


def test_an_untampered_ledger_is_compared_whole_without_reading_it_twice(
        history: History, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual case is decided whole: every map version's stored rows packed by the
    database (PostgreSQL) or here (SQLite) equal the version recomputed, and the stored Merkle
    nodes equal the recomputed levels, so neither is read again row by row."""
    def read_again(*_: object) -> None:
        raise AssertionError("read again row by row, though nothing was edited")

    monkeypatch.setattr(LedgerVerifier, "_stored_groups", read_again)
    monkeypatch.setattr(LedgerVerifier, "_check_nodes", read_again)
    report = _verify(ledger)
    assert report.ok, _described(report)
    with ledger.log.snapshot() as view:
        packed = list(view.iter_head_packed(-1, history.size))
        grouped = list(view.iter_head_groups(-1, history.size))
    assert len(packed) > 1
    assert [(v, bytes(p), c) for v, p, c in packed] == [
        (v, pack_groups(g), c) for v, g, c in grouped]


def _verify_problems(defect: Defect, report: VerifyReport) -> list[str]:
    """What ``verify_ledger`` got wrong about the defect (empty: it named it right)."""
    if report.ok:
        return ["verify reports the tampered ledger as OK"]
    problems = []
    first = report.first
    if not defect.first.matches(first):
        problems.append(f"verify: expected first {defect.first}, got"
                        f" {first and first.describe()}")
    problems.extend(f"verify: no failure matches {finding}" for finding in defect.also
                    if not any(finding.matches(f) for f in report.failures))
    if defect.only_checks is not None:
        extra = {f.check for f in report.failures} - defect.only_checks
        if extra:
            problems.append(f"verify: unexpected checks failed: {sorted(extra)}")
    if problems:
        problems.append("verify reported:\n  " + "\n  ".join(_described(report)[:40]))
    return problems


def _read_problems(defect: Defect, make_ledger: Callable[..., Ledger]) -> list[str]:
    """What the verified reads got wrong about the defect (empty: they named it right)."""
    expected = defect.read
    if expected is None:
        return []  # a stream read cannot see this defect (its fixture says why)
    problems = []
    for read in ("project", "events_of"):
        reader = make_ledger()  # a fresh application: nothing cached from before the tamper
        try:
            getattr(reader, read)(expected.stream)
        except IntegrityFailedError as exc:
            error = exc
        else:
            problems.append(f"{read}: no error, expected {expected.error.__name__}")
            continue
        wrong = []
        if not isinstance(error, expected.error):
            wrong.append(f"type {type(error).__name__}, expected {expected.error.__name__}")
        if expected.names_stream and str(error.stream) != str(expected.stream):
            wrong.append(f"stream {error.stream}, expected {expected.stream}")
        if expected.seq is not None and error.seq != expected.seq:
            wrong.append(f"seq {error.seq}, expected {expected.seq}")
        if expected.leaf_index is not None and error.leaf_index != expected.leaf_index:
            wrong.append(f"leaf {error.leaf_index}, expected {expected.leaf_index}")
        if wrong:
            problems.append(f"{read}: {'; '.join(wrong)} ({error!r})")
    return problems


@pytest.mark.parametrize("defect_name", READ_DETECTED + VERIFY_ONLY)
def test_defect_is_detected(defect_name: str, request: pytest.FixtureRequest, ledger: Ledger,
                            make_ledger: Callable[..., Ledger]) -> None:
    """``ledger verify`` names the defect first, and a verified read of its stream raises."""
    defect: Defect = request.getfixturevalue(defect_name)
    problems = _verify_problems(defect, _verify(ledger)) + _read_problems(defect, make_ledger)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("table", "column", "where", "named"), [
    ("log_leaves", "entry_hash", "leaf_index = 1", "entry hash is stored as str"),
    ("log_nodes", "hash", "level = 1 AND idx = 0", "the stored Merkle node at level"),
    ("head_nodes", "node", "version = 2", "the heads map's row at version"),
], ids=["leaf", "node", "head-row"])
def test_a_value_stored_as_text_stops_verify_with_a_named_failure(
        history: History, ledger: Ledger, tamper: Tamperer, table: str, column: str, where: str,
        named: str) -> None:
    """An operator who stores text where the log keeps bytes (no schema change on SQLite):
    verify says what it met and fails, rather than stopping with a Python error."""
    assert history.size > 2
    tamper.retype(table, column, where)
    report = _verify(ledger)
    assert not report.ok
    [failure] = report.failures
    assert failure.check == "store"
    assert named in failure.message
    assert "edited beneath its schema" in failure.message


@pytest.mark.parametrize(("level", "idx"), [(-1, 0), (0, -5), (40, 0)])
def test_a_node_row_outside_the_tree_is_named(history: History, ledger: Ledger,
                                               tamper: Tamperer, level: int, idx: int) -> None:
    """A stored Merkle node row at a position no tree has (a negative one included): verify
    names it rather than stopping on it."""
    assert history.size > 2
    tamper.add_node(level, idx)
    report = _verify(ledger)
    assert [f.check for f in report.failures] == ["tree", "tree"], _described(report)
    assert (f"stored node at level {level}, index {idx} lies beyond the log's {history.size}"
            " leaves") in report.failures[0].message
    assert "nodes expected" in report.failures[1].message


def test_an_entry_stored_twice_is_counted(history: History, ledger: Ledger,
                                          tamper: Tamperer) -> None:
    """A second, altered row for project A's newest entry beside the right one (the events'
    primary key dropped): verify pairs each leaf with the row its notification id names, as
    appended, and names the row no leaf commits to."""
    stream = history.stream("A")
    tamper.store_twice("stored_events", {"originator_id": tamper._id(stream),
                                         "originator_version": ENTRIES_PER_STREAM}, "state")
    report = _verify(ledger)
    assert [f.check for f in report.failures] == ["entry"], _described(report)
    assert (f"{history.size + 1} stored entries but {history.size} log leaves"
            in report.failures[0].message)


def test_cli_verify_exit_code_and_first_failure(history: History, tamper: Tamperer,
                                                settings: Settings) -> None:
    runner = CliRunner()
    env = {"LEDGER_DATABASE_URL": settings.database_url}
    clean = runner.invoke(cli_app, ["verify", "--json"], env=env)
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout)["ok"] is True

    tamper.edit_payload_byte(history.stream("C"), 2)
    tampered = runner.invoke(cli_app, ["verify", "--json"], env=env)
    assert tampered.exit_code == 1, tampered.output
    result = json.loads(tampered.stdout)
    assert result["ok"] is False
    assert result["first_failure"] == {
        "check": "hash",
        "message": result["first_failure"]["message"],
        "leaf_index": history.leaf("C", 2),
        "stream": str(history.stream("C")),
        "seq": 2,
    }


def test_a_document_altered_in_the_database_is_named(history: History, ledger: Ledger) -> None:
    """A document is cited by its hash alone: its bytes swapped beneath the ledger (a forged
    contract under the real one's name) fail ``ledger verify``, which hashes every stored
    document where it is stored, naming the document."""
    assert _verify(ledger).documents > 0
    url = ledger.settings.database_url
    [(sha256,)] = run_sql(url, "SELECT MIN(sha256) FROM {documents}")
    forged = ("CAST('%PDF-1.7 forged' AS BLOB)" if url.startswith("sqlite")
              else "convert_to('%PDF-1.7 forged', 'UTF8')")
    run_sql(url, f"UPDATE {{documents}} SET data = {forged} WHERE sha256 = '{sha256}'")
    report = _verify(ledger)
    assert [f.check for f in report.failures] == ["document"], _described(report)
    assert f"document {sha256} does not hash to its name" in report.failures[0].message
    with pytest.raises(DocumentAlteredError):
        ledger.log.get_document(sha256)
