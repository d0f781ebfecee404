"""``GET /log/proof/head`` and ``GET /log/proof/inclusion?stream=…&seq=…`` (docs/api.md, docs/
evidence-format.md, The log's HTTP interface): a stream's head at a checkpoint with its map
proof and the checkpoint, the registry's too, non-inclusion for a stream with no entry, 404 with
the head proof for an entry the tree does not hold; a unit asks only about its own projects and
the registry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.app import Ledger
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.headmap import (
    HeadProof,
    StreamHead,
    head_from_json,
    heads_root,
    proof_from_json,
    verify_head,
)
from ledger.measures.catalogue import EXAMPLES

Auth = Callable[[str], dict[str, str]]


def _projects(ledger: Ledger) -> tuple[uuid.UUID, uuid.UUID]:
    """One project of edu-wang's (3 entries) and one of health-chen's (1 entry)."""
    ours = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    theirs = ledger.file("health-chen", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    for _ in range(2):
        ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                    stream=ours)
    return ours, theirs


def _verified(ledger: Ledger, body: dict[str, Any]) -> tuple[StreamHead | None, HeadProof]:
    """Check an answer as a client would: the note under the log key, then the proof."""
    note = SignedNote.parse(body["checkpoint"])
    verify_note(note, [ledger.identity.log_key])
    assert note.checkpoint.size == body["tree_size"]
    root = heads_root(note.checkpoint.extensions)
    assert body["heads_root"] == root.hex()
    head = None if body["head"] is None else head_from_json(body["head"])
    proof = proof_from_json(body["proof"])
    verify_head(ledger.identity.profile, root, uuid.UUID(body["stream"]), head, proof)
    return head, proof


def test_head_proofs_of_projects_the_registry_and_absent_streams(
        client: TestClient, ledger: Ledger, auth: Auth) -> None:
    ours, theirs = _projects(ledger)
    latest = ledger.trusted_checkpoint()
    assert latest is not None
    for stream, seq in ((ours, 3), (theirs, 1),
                        (ledger.identity.registry_stream, None), (uuid.uuid4(), 0)):
        response = client.get("/log/proof/head", params={"stream": str(stream)},
                              headers=auth("audit-sun"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"stream", "tree_size", "head", "proof", "heads_root",
                             "checkpoint"}
        assert body["tree_size"] == latest.size  # the default: the newest checkpoint
        head, _ = _verified(ledger, body)
        if seq == 0:  # no entry: non-inclusion
            assert head is None
            continue
        assert head is not None
        leaf = ledger.log.leaf(head.leaf_index)
        assert leaf is not None
        assert leaf.entry_hash == head.entry_hash
        if seq is not None:
            assert head.seq == seq
    # At an older checkpoint: the head then; before the project existed, non-inclusion.
    opened = ledger.log.leaf_for(ours, 1)
    assert opened is not None
    for size, expected in ((opened.leaf_index + 1, 1), (opened.leaf_index, None)):
        body = client.get("/log/proof/head", params={"stream": str(ours), "tree_size": size},
                          headers=auth("office-li")).json()
        head, _ = _verified(ledger, body)
        assert (head.seq if head else None) == expected


def test_head_proof_refusals(client: TestClient, ledger: Ledger, auth: Auth) -> None:
    ours, _ = _projects(ledger)
    latest = ledger.trusted_checkpoint()
    assert latest is not None
    for params, status, fragment in (
            ({"stream": str(ours), "tree_size": latest.size + 1}, 422, "no checkpoint of size"),
            ({"stream": str(ours), "tree_size": 0}, 422, ""),
            ({"stream": str(ours), "tree_size": 2**63}, 422, ""),
            ({"stream": "not-a-uuid"}, 422, ""),
            ({}, 422, "")):
        response = client.get("/log/proof/head", params=params, headers=auth("audit-sun"))
        assert response.status_code == status, response.text
        assert fragment in response.json()["detail"]
    assert client.get("/log/proof/head", params={"stream": str(ours)}).status_code == 401


def test_a_unit_asks_only_about_its_own_projects_and_the_registry(
        client: TestClient, ledger: Ledger, auth: Auth) -> None:
    ours, theirs = _projects(ledger)
    allowed = (ours, ledger.identity.registry_stream)
    for stream in (*allowed, theirs, uuid.uuid4()):
        for path, params in (("/log/proof/head", {}), ("/log/proof/inclusion", {"seq": 1})):
            response = client.get(path, params={"stream": str(stream), **params},
                                  headers=auth("edu-wang"))
            assert response.status_code == (200 if stream in allowed else 404), response.text
            if stream not in allowed:  # as if it did not exist: no head, no proof
                assert response.json()["type"].endswith("/project-not-found")
    # Other roles ask about any stream (as every log route answers them).
    for actor in ("office-li", "investigator-wu", "admin-zhou"):
        response = client.get("/log/proof/head", params={"stream": str(theirs)},
                              headers=auth(actor))
        assert response.status_code == 200, (actor, response.text)


def test_inclusion_by_stream_and_seq(client: TestClient, ledger: Ledger, auth: Auth) -> None:
    ours, _ = _projects(ledger)
    latest = ledger.trusted_checkpoint()
    assert latest is not None
    leaf = ledger.log.leaf_for(ours, 2)
    assert leaf is not None
    body = client.get("/log/proof/inclusion", params={"stream": str(ours), "seq": 2},
                      headers=auth("audit-sun")).json()
    assert (body["leaf_index"], body["tree_size"]) == (leaf.leaf_index, latest.size)
    assert body["recorded_at"] == leaf.recorded_at
    merkle.verify_inclusion(ledger.identity.profile.hash, leaf.leaf_index, latest.size,
                            leaf.entry_hash, [bytes.fromhex(p) for p in body["inclusion_proof"]],
                            latest.root)
    # The same leaf by index answers the same proof.
    by_index = client.get("/log/proof/inclusion", params={"leaf_index": leaf.leaf_index},
                          headers=auth("audit-sun")).json()
    assert by_index == body


@pytest.mark.parametrize("seq", [4, 99])
def test_no_such_entry_is_404_with_the_head_proof(client: TestClient, ledger: Ledger,
                                                  auth: Auth, seq: int) -> None:
    ours, _ = _projects(ledger)
    response = client.get("/log/proof/inclusion", params={"stream": str(ours), "seq": seq},
                          headers=auth("audit-sun"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"].startswith("no such entry (head is seq 3)")
    assert (problem["stream"], problem["seq"]) == (str(ours), seq)
    head, _ = _verified(ledger, problem["head_proof"])
    assert head is not None
    assert head.seq == 3
    # An entry that exists but is beyond an older checkpoint is not in that tree either.
    opened = ledger.log.leaf_for(ours, 1)
    assert opened is not None
    response = client.get("/log/proof/inclusion", params={
        "stream": str(ours), "seq": 2, "tree_size": opened.leaf_index + 1},
        headers=auth("audit-sun"))
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no such entry (head is seq 1)")
    # A stream with no entry at all: head is none, a non-inclusion proof.
    response = client.get("/log/proof/inclusion", params={"stream": str(uuid.uuid4()),
                                                          "seq": 1}, headers=auth("audit-sun"))
    assert response.json()["detail"].startswith("no such entry (head is none)")
    assert _verified(ledger, response.json()["head_proof"])[0] is None


def test_inclusion_forms_are_exclusive(client: TestClient, ledger: Ledger, auth: Auth) -> None:
    ours, _ = _projects(ledger)
    for params in ({"stream": str(ours)}, {"seq": 1},
                   {"stream": str(ours), "seq": 1, "leaf_index": 0},
                   {"stream": str(ours), "seq": 0}, {"stream": str(ours), "seq": 1,
                                                    "tree_size": 3}):
        response = client.get("/log/proof/inclusion", params=params, headers=auth("audit-sun"))
        assert response.status_code == 422, (params, response.text)
