"""``/log``: the checkpoint with cosignatures, RFC 9162 proofs from stored nodes against a naive
reference for every tree size up to a few hundred, and the witness cosignatures served with the
checkpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import Ledger
from ledger.crypto.suites import INTL
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote, SignerKey, verify_note
from ledger.measures.catalogue import EXAMPLES
from witness.keys import CosignerKey

H = INTL.hash


# --- a naive RFC 9162 §2.1 reference, straight from the text -----------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return H.digest(b"")
    if len(d) == 1:
        return H.digest(b"\x00" + d[0])
    k = _k(len(d))
    return H.digest(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = _k(n)
        if m <= k:
            return [*subproof(m, d[:k], b), mth(d[k:])]
        return [*subproof(m - k, d[k:], False), mth(d[:k])]

    return subproof(m, d, True)


# --- helpers (the client fixture is tests/api/conftest.py's) -------------------------------


def _auth(ledger: Ledger, actor: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ledger.tokens.issue(actor)}"}


def _grow(ledger: Ledger, leaves: int) -> list[bytes]:
    """File filings in group commits of varied sizes until the log has ``leaves`` leaves."""
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    batch = 1
    while (size := ledger.log.tree_size()) < leaves:
        count = min(batch, leaves - size)
        filings = [ledger.prepare("edu-wang", "MaterialsSupplemented",
                                  EXAMPLES["MaterialsSupplemented"], stream=stream)
                   for _ in range(count)]
        for result in ledger.submit_many(filings):
            assert not isinstance(result, Exception), result
        batch = batch % 37 + 3
    return [leaf.entry_hash for leaf, _ in ledger.log.iter_log()]


@pytest.fixture
def leaves(ledger: Ledger) -> list[bytes]:
    return _grow(ledger, 300)


# --- proofs -------------------------------------------------------------------------------------


def test_every_size_matches_the_reference(ledger: Ledger, leaves: list[bytes]) -> None:
    for size in range(1, len(leaves) + 1):
        d = leaves[:size]
        root = mth(d)
        assert ledger.proofs.root_at(size) == root, size
        for index in sorted({0, size // 3, size // 2, size - 1}):
            audit = ledger.proofs.inclusion_proof(index, size)
            assert audit == path(index, d), (index, size)
            merkle.verify_inclusion(H, index, size, d[index], audit, root)
        for first in sorted({1, size // 2 or 1, max(size - 1, 1), size}):
            consistency = ledger.proofs.consistency_proof(first, size)
            assert consistency == proof(first, d), (first, size)
            merkle.verify_consistency(H, first, size, mth(leaves[:first]), root, consistency)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_http_proofs_match_the_reference(client: TestClient, ledger: Ledger,
                                         leaves: list[bytes], data: st.DataObject) -> None:
    headers = _auth(ledger, "office-li")
    size = data.draw(st.integers(1, len(leaves)), label="tree_size")
    index = data.draw(st.integers(0, size - 1), label="leaf_index")
    body = client.get("/log/proof/inclusion", params={"leaf_index": index, "tree_size": size},
                      headers=headers).json()
    assert [bytes.fromhex(p) for p in body["inclusion_proof"]] == path(index, leaves[:size])
    assert bytes.fromhex(body["root"]) == mth(leaves[:size])
    assert (body["leaf_index"], body["tree_size"]) == (index, size)
    by_hash = client.get("/log/proof/inclusion", params={
        "entry_hash": leaves[index].hex(), "tree_size": size}, headers=headers).json()
    assert by_hash == body
    first = data.draw(st.integers(1, size), label="first")
    body = client.get("/log/proof/consistency", params={"first": first, "second": size},
                      headers=headers).json()
    assert [bytes.fromhex(p) for p in body["consistency_proof"]] == proof(first, leaves[:size])
    assert bytes.fromhex(body["first_root"]) == mth(leaves[:first])


def test_inclusion_defaults_to_the_latest_checkpoint(client: TestClient, ledger: Ledger) -> None:
    _grow(ledger, 20)
    latest = ledger.trusted_checkpoint()
    assert latest is not None
    body = client.get("/log/proof/inclusion", params={"leaf_index": 3},
                      headers=_auth(ledger, "office-li")).json()
    assert body["tree_size"] == latest.size
    assert bytes.fromhex(body["root"]) == latest.root


@pytest.mark.parametrize(("params", "status"), [
    ({"leaf_index": 5, "tree_size": 5}, 422),
    ({"leaf_index": 0, "tree_size": 10_000}, 422),
    ({}, 422),
    ({"leaf_index": 0, "entry_hash": "00" * 32}, 422),
    ({"entry_hash": "ab" * 32}, 404),
    ({"entry_hash": "not hex"}, 422),
    ({"leaf_index": -1}, 422),
])
def test_bad_inclusion_queries(client: TestClient, ledger: Ledger, params: dict[str, object],
                               status: int) -> None:
    _grow(ledger, 12)
    response = client.get("/log/proof/inclusion", params=params,
                          headers=_auth(ledger, "office-li"))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("params", [{"first": 5, "second": 3}, {"first": 0, "second": 3},
                                    {"first": 1, "second": 10_000}])
def test_bad_consistency_queries(client: TestClient, ledger: Ledger,
                                 params: dict[str, int]) -> None:
    response = client.get("/log/proof/consistency", params=params,
                          headers=_auth(ledger, "office-li"))
    assert response.status_code == 422, response.text


def test_log_routes_need_a_token(client: TestClient) -> None:
    for route in ("/log/checkpoint", "/log/proof/inclusion?leaf_index=0",
                  "/log/proof/consistency?first=1&second=1"):
        assert client.get(route).status_code == 401


# --- checkpoint and cosignatures ----------------------------------------------------------------


def test_checkpoint_is_the_signed_note(client: TestClient, ledger: Ledger) -> None:
    response = client.get("/log/checkpoint", headers=_auth(ledger, "edu-wang"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    latest = ledger.trusted_checkpoint()
    assert latest is not None
    assert response.text == latest.note
    verify_note(SignedNote.parse(response.text), [ledger.identity.log_key])


def test_stored_cosignatures_are_served_with_the_note(client: TestClient,
                                                       ledger: Ledger) -> None:
    """What the push task stores (api.witnessing) is served after the log's line; a new
    checkpoint carries none until its witness cosigns it. Nothing is posted to the log."""
    key = SignerKey.generate("audit.gaoxin.example/witness")
    witness = CosignerKey(key.name, key.signer)
    latest = ledger.trusted_checkpoint()
    assert latest is not None
    note = SignedNote.parse(latest.note)
    line = witness.cosign(note.checkpoint.body(), 1_800_000_000)
    ledger.log.put_cosignature(latest.size, line.name, line.key_id.hex(), line.line(),
                               ledger.now())
    served = client.get("/log/checkpoint", headers=_auth(ledger, "office-li")).text
    assert served == latest.note + line.line()
    assert served == client.get("/checkpoint").text
    verify_note(SignedNote.parse(served), [witness.verifier_key])
    ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    assert client.get("/log/checkpoint",
                      headers=_auth(ledger, "office-li")).text.count("\u2014 ") == 1
    assert client.post("/log/checkpoint/cosign", content=served,
                       headers=_auth(ledger, "office-li")).status_code in (404, 405)


# --- GET /api/v1/projects/{id}/evidence ---------------------------------------------------------


def test_evidence_route_roles_and_bundle(client: TestClient, ledger: Ledger,
                                         auth: Callable[[str], dict[str, str]]) -> None:
    from ledger.evidence.bundle import verify_bundle  # noqa: PLC0415

    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    cutoff = ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                         stream=stream).recorded_at
    ledger.file("edu-wang", "ContractFiled", EXAMPLES["ContractFiled"], stream=stream)
    route = f"/api/v1/projects/{stream}/evidence"
    log_key = ledger.identity.log_key.encode()
    for actor in ("investigator-wu", "audit-sun", "office-li", "edu-wang"):
        response = client.get(route, headers=auth(actor))
        assert response.status_code == 200, (actor, response.text)
        assert response.headers["content-type"] == "application/zip"
        assert f'filename="evidence-{stream}.zip"' in response.headers["content-disposition"]
        assert verify_bundle(response.content, log_key=log_key).entries == 3
    earlier = client.get(route, params={"as_known_at": cutoff, "on": "2026-11-02"},
                         headers=auth("audit-sun"))
    report = verify_bundle(earlier.content, log_key=log_key)
    assert (report.entries, report.as_known_at, report.evaluated_on) == (2, cutoff, "2026-11-02")
    assert client.get(route, headers=auth("health-chen")).status_code == 404  # not its project
    for actor in ("finance-zhao", "approval-he", "cdr-qian", "admin-zhou"):
        assert client.get(route, headers=auth(actor)).status_code == 403, actor
    assert client.get(route, params={"as_known_at": "yesterday"},
                      headers=auth("audit-sun")).status_code == 422
    assert client.get(route, params={"as_known_at": "2000-01-01T00:00:00Z"},
                      headers=auth("audit-sun")).status_code == 404
    registry = f"/api/v1/projects/{ledger.identity.registry_stream}/evidence"
    assert client.get(registry, headers=auth("audit-sun")).status_code == 404
    assert client.get(route).status_code == 401
