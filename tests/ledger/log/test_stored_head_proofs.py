"""Property: over random small logs written by the ledger (projects opened and supplemented in
group commits of random make-up, on SQLite and PostgreSQL), every stream's head proof served from
the stored heads map verifies against the ``heads`` line of every checkpoint, holds the stream's
newest leaf below that size, and no proof verifies for a wrong head.

tests/ledger/log/test_headmap.py proves the same of the map in memory; this is what is specific
to the ledger's stored maps: node versions written per batch, read back at any checkpoint size
through ``Ledger.proofs.head_proof``, under the key the log signed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import Ledger
from ledger.errors import HeadProofError
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.headmap import StreamHead, heads_root, verify_head
from ledger.log.heads import map_stream
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.roles import Role
from ledger.settings import Settings

# A log: how many projects, then batches, each a list of project indexes (repeats allowed).
logs = st.tuples(st.integers(1, 5),
                 st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=6), max_size=5))


def _wrong(head: StreamHead) -> list[StreamHead]:
    """Heads that are not ``head``: another seq, hash or leaf index."""
    flipped = bytes([head.entry_hash[0] ^ 1]) + head.entry_hash[1:]
    wrong = [replace(head, seq=head.seq + 1), replace(head, entry_hash=flipped),
             replace(head, leaf_index=head.leaf_index + 1)]
    if head.seq > 1:
        wrong.append(replace(head, seq=head.seq - 1))
    return wrong


def _build(ledger: Ledger, projects: int, batches: list[list[int]]) -> list[uuid.UUID]:
    ledger.initialise()
    for content in example_documents().values():
        ledger.add_document(content, "text/plain")
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
    streams = [ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
               for _ in range(projects)]
    for batch in batches:
        filings = [ledger.prepare("edu-wang", "MaterialsSupplemented",
                                  EXAMPLES["MaterialsSupplemented"],
                                  stream=streams[i % projects]) for i in batch]
        for result in ledger.submit_many(filings):
            assert not isinstance(result, Exception), result
    return streams


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(log=logs)
def test_every_stored_head_proves_at_every_checkpoint_and_no_wrong_head_does(
        database_url: str, make_database: Callable[[str], str],
        log: tuple[int, list[list[int]]]) -> None:
    projects, batches = log
    ledger = Ledger(Settings(database_url=make_database(database_url), environment="test"))
    try:
        streams = _build(ledger, projects, batches)
        profile = ledger.identity.profile
        absent = uuid.uuid4()
        heads: dict[uuid.UUID, StreamHead] = {}
        leaves = [leaf for leaf, _ in ledger.log.iter_log()]
        checkpoints = list(ledger.log.iter_checkpoints())
        assert checkpoints[-1].size == len(leaves)
        size = 0
        for checkpoint in checkpoints:
            note = SignedNote.parse(checkpoint.note)
            verify_note(note, [ledger.identity.log_key])  # the line is signed by the log
            root = heads_root(note.checkpoint.extensions)
            for leaf in leaves[size:checkpoint.size]:  # the truth, from the leaves
                stream = map_stream(leaf.originator_id)
                assert stream is not None
                heads[stream] = StreamHead(leaf.originator_version, leaf.entry_hash,
                                           leaf.leaf_index)
            size = checkpoint.size
            for stream in [*streams, ledger.identity.registry_stream, absent]:
                head, proof = ledger.proofs.head_proof(stream, size)
                assert head == heads.get(stream)
                verify_head(profile, root, stream, head, proof)
                claims = ([None, *_wrong(head)] if head is not None
                          else [StreamHead(1, bytes(32), size)])
                for claim in claims:
                    with pytest.raises(HeadProofError):
                        verify_head(profile, root, stream, claim, proof)
                if head is not None:  # nor is it another stream's head
                    with pytest.raises(HeadProofError):
                        verify_head(profile, root, absent, head, proof)
    finally:
        ledger.close()
