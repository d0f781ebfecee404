"""The ledger application on both backends: filing, rules, keys, group commit, verified reads."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.app import Ledger, SignedFiling
from ledger.errors import (
    AuthorisationError,
    BadSignatureError,
    ConflictError,
    DuplicateNonceError,
    KeyNotValidError,
    MalformedEntryError,
    ProjectNotFoundError,
    RuleViolationError,
    ValidationFailedError,
)
from ledger.evidence.verify import verify_ledger
from ledger.log.entries import Filing, b64encode
from ledger.measures.catalogue import EXAMPLES
from ledger.service import calendar as calendar_module
from ledger.service import decisions as decisions_module
from ledger.service.decisions import Batch


def _open_project(ledger: Ledger, actor: str = "edu-wang") -> uuid.UUID:
    return ledger.file(actor, "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream


def test_filing_is_sealed_chained_and_logged(ledger: Ledger) -> None:
    first = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    second = ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                         stream=first.stream)
    events = ledger.events_of(first.stream)
    assert [e.originator_version for e in events] == [1, 2]
    assert events[0].prev == "0" * 64
    assert events[1].prev == first.entry_hash
    assert events[1].entry_hash == second.entry_hash
    assert second.leaf_index == first.leaf_index + 1
    assert second.recorded_at >= first.recorded_at
    checkpoint = ledger.trusted_checkpoint()
    assert checkpoint is not None
    assert checkpoint.size == second.leaf_index + 1


def test_art9_contract_before_approving_opinion_is_refused(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    size = ledger.log.tree_size()
    with pytest.raises(RuleViolationError) as caught:
        ledger.file("edu-wang", "ContractFiled", EXAMPLES["ContractFiled"], stream=stream)
    assert caught.value.article == "Art. 9"
    assert ledger.log.tree_size() == size  # nothing written
    ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                stream=stream)
    ledger.file("edu-wang", "ContractFiled", EXAMPLES["ContractFiled"], stream=stream)
    assert ledger.project(stream).facts.stage == "in_construction"


def test_role_not_in_filed_by_is_refused(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    with pytest.raises(AuthorisationError):
        ledger.file("edu-wang", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                    stream=stream)


def test_unit_files_only_for_its_own_projects(ledger: Ledger) -> None:
    stream = _open_project(ledger, "edu-wang")
    ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                stream=stream)
    with pytest.raises(AuthorisationError):
        ledger.file("health-chen", "ContractFiled", EXAMPLES["ContractFiled"], stream=stream)


def test_invalid_payload_is_refused_naming_fields(ledger: Ledger) -> None:
    payload = dict(EXAMPLES["ApplicationFiled"]) | {"budget_estimate_fen": 1.5}
    with pytest.raises(ValidationFailedError) as caught:
        ledger.file("edu-wang", "ApplicationFiled", payload)
    assert any("budget_estimate_fen" in field for field, _ in caught.value.problems)


def test_filing_on_unknown_project_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ProjectNotFoundError):
        ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                    stream=uuid.uuid4())


def test_revoked_key_is_refused_on_append(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    key = ledger.registry().current_key("edu-wang", ledger.now())
    signed = ledger.prepare("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=stream)
    ledger.revoke_key(key.key_id)
    with pytest.raises(KeyNotValidError):
        ledger.submit(signed)
    # A rotated key works again.
    ledger.rotate_key("edu-wang")
    ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                stream=stream)
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok


def test_signature_by_another_key_is_refused(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    signed = ledger.prepare("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=stream)
    other = ledger.identity.profile.signature.generate()
    forged = SignedFiling(signed.filing, b64encode(other.sign(signed.filing.signing_bytes())))
    with pytest.raises(BadSignatureError):
        ledger.submit(forged)


def test_client_signed_filing_with_registered_public_key(ledger: Ledger) -> None:
    suite = ledger.identity.profile.signature
    client = suite.generate()
    key = ledger.register_public_key("edu-wang", client.public_key)
    filing = Filing(ledger=ledger.identity.origin, stream=uuid.uuid4(), type="ApplicationFiled",
                    effective=ledger.clock().date(), payload=EXAMPLES["ApplicationFiled"],
                    actor="edu-wang", key=key.key_id, nonce=uuid.uuid4())
    receipt = ledger.submit(SignedFiling(filing, b64encode(client.sign(filing.signing_bytes()))))
    stored = ledger.events_of(receipt.stream)[0]
    assert stored.filing == filing  # stored untouched


def test_same_nonce_twice_is_refused(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    signed = ledger.prepare("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=stream)
    ledger.submit(signed)
    with pytest.raises(DuplicateNonceError):
        ledger.submit(signed)


def test_group_commit_isolates_refusals(ledger: Ledger) -> None:
    streams = [_open_project(ledger) for _ in range(3)]
    batch = [ledger.prepare("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=s) for s in streams]
    bad = ledger.prepare("edu-wang", "ContractFiled", EXAMPLES["ContractFiled"],
                         stream=streams[2])  # refused by Art. 9 at decision time
    results = ledger.submit_many([batch[0], bad, batch[1], batch[2]])
    assert isinstance(results[1], RuleViolationError)
    assert [r.seq for r in results if not isinstance(r, Exception)] == [2, 2, 2]
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok


def test_conflict_under_the_lock_fails_only_its_filing(
        ledger: Ledger, make_ledger: Callable[..., Ledger]) -> None:
    streams = [_open_project(ledger) for _ in range(3)]
    # Decide three filings on the current heads (seq 2 for each stream)…
    stale = []
    for stream in streams:
        signed = ledger.prepare("edu-wang", "MaterialsSupplemented",
                                EXAMPLES["MaterialsSupplemented"], stream=stream)
        registry = ledger.registry()
        stale.append(ledger.decider.decide(signed, registry, Batch(registry=registry, fresh=False)))
    # …then another process appends to the second stream before the batch takes the lock.
    make_ledger().file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                       stream=streams[1])
    size = ledger.log.tree_size()
    outcome = ledger.log.append([ledger.mapper.to_stored_event(e) for e in stale])
    assert list(outcome.rejected) == [1]
    assert isinstance(outcome.rejected[1], ConflictError)
    assert [a.position for a in outcome.appended] == [0, 2]
    assert [a.leaf_index for a in outcome.appended] == [size, size + 1]  # dense
    report = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


def test_verified_read_matches_receipts(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    receipts = [ledger.file("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=stream) for _ in range(5)]
    project = ledger.project(stream)
    assert project.version == 6
    assert project.head_hash == receipts[-1].entry_hash
    proof = ledger.proofs.inclusion_proof(receipts[0].leaf_index, ledger.log.tree_size())
    assert proof  # non-empty path in a tree of more than one leaf


def test_initialise_is_idempotent(ledger: Ledger, make_ledger: Callable[..., Ledger]) -> None:
    again = make_ledger()
    assert again.initialise() == ledger.identity


def test_malformed_pending_entry_fails_alone(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    registry = ledger.registry()
    good = ledger.decider.decide(ledger.prepare("edu-wang", "MaterialsSupplemented",
                                                EXAMPLES["MaterialsSupplemented"], stream=stream),
                                 registry, Batch(registry=registry, fresh=False))
    bad = StoredEvent(uuid.uuid4(), 1, "ApplicationFiled", b"not json")
    outcome = ledger.log.append([bad, ledger.mapper.to_stored_event(good)])
    assert isinstance(outcome.rejected[0], MalformedEntryError)
    assert [a.position for a in outcome.appended] == [1]
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok


# --- the write side's cache -------------------------------------------------------------------


def test_cached_state_after_appends_equals_a_rebuild(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                stream=stream)
    ledger.submit_many([ledger.prepare("edu-wang", "MaterialsSupplemented",
                                       EXAMPLES["MaterialsSupplemented"], stream=stream)
                        for _ in range(3)])
    cached = ledger.current_project(stream)
    rebuilt = ledger.project(stream)
    assert (cached.version, cached.head_hash, cached.nonces) == (
        rebuilt.version, rebuilt.head_hash, rebuilt.nonces)
    assert cached.facts == rebuilt.facts
    assert cached.modified_on == rebuilt.modified_on
    assert not cached.pending_events


def test_a_refused_filing_leaves_the_cached_state_alone(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    before = ledger.current_project(stream)
    facts, version = before.facts, before.version
    with pytest.raises(RuleViolationError):
        ledger.file("edu-wang", "ContractFiled", EXAMPLES["ContractFiled"], stream=stream)
    after = ledger.current_project(stream)
    assert (after.facts, after.version) == (facts, version)
    assert before.version == version
    assert not before.pending_events


def test_a_stream_moved_by_another_process_is_decided_again(
        ledger: Ledger, make_ledger: Callable[..., Ledger]) -> None:
    stream = _open_project(ledger)
    ledger.current_project(stream)  # cached here at seq 1
    other = make_ledger()
    other.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
               stream=stream)
    # Decided on the cached seq-1 state, refused under the lock, decided again on seq 2:
    receipt = ledger.file("edu-wang", "MaterialsSupplemented",
                          EXAMPLES["MaterialsSupplemented"], stream=stream)
    assert receipt.seq == 3
    # The fresh decision saw the review opinion: a contract is now allowed (Art. 9).
    other.file("edu-wang", "ContractFiled", EXAMPLES["ContractFiled"], stream=stream)
    assert ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                       stream=stream).seq == 5
    assert ledger.project(stream).facts.stage == "in_construction"


def test_after_a_conflict_the_fresh_read_fast_forwards_from_the_cached_state(
        ledger: Ledger, make_ledger: Callable[..., Ledger],
        monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _open_project(ledger)
    ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                stream=stream)  # cached here at seq 2
    make_ledger().file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                       stream=stream)
    reads: list[object] = []
    get = ledger.events.get

    def spy(originator_id: uuid.UUID, **kwargs: object) -> object:
        if originator_id == stream:
            reads.append(kwargs.get("gt"))
        return get(originator_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger.events, "get", spy)
    assert ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                       stream=stream).seq == 4
    assert reads == [2]  # only the entry after the cached seq 2 was read, not the stream


def test_a_payload_validated_by_prepare_is_not_validated_again_unless_it_differs(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _open_project(ledger)
    calls: list[str] = []
    validate = decisions_module.validate_payload

    def counting(event_type: str, raw: object) -> object:
        calls.append(event_type)
        return validate(event_type, raw)  # type: ignore[arg-type]

    signed = ledger.prepare("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=stream)
    other = ledger.prepare("edu-wang", "MaterialsSupplemented",
                           dict(EXAMPLES["MaterialsSupplemented"]) | {"remarks": "另一份"},
                           stream=stream)
    assert signed.payload_model is not None
    monkeypatch.setattr(decisions_module, "validate_payload", counting)
    ledger.submit(signed)
    assert calls == []
    # A model that does not match the payload it travels with is not trusted.
    mixed = dataclasses.replace(other, payload_model=signed.payload_model)
    ledger.submit(mixed)
    assert calls == ["MaterialsSupplemented"]


def test_a_key_revoked_by_another_process_is_never_used(
        ledger: Ledger, make_ledger: Callable[..., Ledger]) -> None:
    stream = _open_project(ledger)
    old_key = ledger.registry().current_key("edu-wang", ledger.now()).key_id
    other = make_ledger()
    new_key = other.rotate_key("edu-wang").key_id
    other.revoke_key(old_key)
    # This process's cached registry still shows the old key as current: the append refuses
    # the stale registry under the lock, and the filing is signed again with the new key.
    receipt = ledger.file("edu-wang", "MaterialsSupplemented",
                          EXAMPLES["MaterialsSupplemented"], stream=stream)
    assert ledger.events_of(stream)[receipt.seq - 1].filing.key == new_key
    # A filing signed with the revoked key is refused.
    signed = other.prepare("edu-wang", "MaterialsSupplemented",
                           EXAMPLES["MaterialsSupplemented"], stream=stream)
    stale = SignedFiling(dataclasses.replace(signed.filing, key=old_key), signed.signature)
    with pytest.raises(KeyNotValidError):
        ledger.submit(stale)


def test_a_large_group_commit_checks_signatures_in_parallel_and_refuses_each_alone(
        ledger: Ledger) -> None:
    streams = [_open_project(ledger) for _ in range(4)]
    signed = [ledger.prepare("edu-wang", "MaterialsSupplemented",
                             EXAMPLES["MaterialsSupplemented"], stream=streams[i % 4])
              for i in range(40)]
    forged = {3, 21, 39}  # in different threads' shares of the batch
    other = ledger.prepare("edu-wang", "MaterialsSupplemented",
                           EXAMPLES["MaterialsSupplemented"], stream=streams[0])
    batch = [SignedFiling(s.filing, other.signature) if i in forged else s
             for i, s in enumerate(signed)]
    results = ledger.submit_many(batch)
    refused = {i for i, r in enumerate(results) if isinstance(r, BadSignatureError)}
    assert refused == forged
    assert all(not isinstance(r, Exception) for i, r in enumerate(results) if i not in forged)


def test_a_token_revoked_elsewhere_stops_within_a_second(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    token = ledger.tokens.issue("edu-wang")
    assert ledger.tokens.actor_for(token) == "edu-wang"
    ledger.log.revoke_tokens("edu-wang")  # as another process does, behind this one's back
    assert ledger.tokens.actor_for(token) == "edu-wang"  # trusted for at most a second
    later = time.monotonic() + 1.5
    monkeypatch.setattr("ledger.service.tokens.time.monotonic", lambda: later)
    assert ledger.tokens.actor_for(token) is None


def test_a_token_revoked_through_the_ledger_stops_at_once(ledger: Ledger) -> None:
    token = ledger.tokens.issue("edu-wang")
    assert ledger.tokens.actor_for(token) == "edu-wang"
    assert ledger.tokens.revoke("edu-wang") == 1
    assert ledger.tokens.actor_for(token) is None


def test_events_as_known_at_are_the_verified_prefix_recorded_by_then(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    receipts = [ledger.file("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=stream) for _ in range(4)]
    middle = receipts[1].recorded_at
    known = ledger.events_of(stream, as_known_at=middle)
    expected = [e for e in ledger.events_of(stream) if (e.recorded_at or "") <= middle]
    assert [e.entry_hash for e in known] == [e.entry_hash for e in expected]
    assert len(known) >= 3
    with pytest.raises(ProjectNotFoundError):
        ledger.events_of(stream, as_known_at="2000-01-01T00:00:00.000000Z")


def test_a_cached_state_that_differs_from_the_log_is_dropped_not_raised(ledger: Ledger) -> None:
    stream = _open_project(ledger)
    cached = ledger.current_project(stream)
    cached.head_hash = "0" * 64  # a cache that no longer matches what the log holds
    # The filing is decided (seq still fits) and committed; folding its sealed entry onto the
    # odd cached state fails, so the cache drops the stream instead of failing the filing.
    receipt = ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                          stream=stream)
    assert receipt.seq == 2
    rebuilt = ledger.project(stream)
    assert ledger.current_project(stream).head_hash == rebuilt.head_hash == receipt.entry_hash


def test_a_year_added_by_another_process_is_used_within_the_calendar_ttl(
        ledger: Ledger, make_ledger: Callable[..., Ledger],
        monkeypatch: pytest.MonkeyPatch) -> None:
    year = json.dumps({"year": 2031, "source": "test fixture, not a published notice",
                       "holidays": [{"date": "2031-01-01", "name": "元旦"}], "workdays": []},
                      ensure_ascii=False)
    assert 2031 not in ledger.calendar.known_years
    make_ledger().add_calendar_year(year)  # `ledger calendar add`, in another process
    assert 2031 not in ledger.calendar.known_years  # read at most once a minute…
    monkeypatch.setattr(calendar_module, "_CALENDAR_TTL", 0.0)
    assert 2031 in ledger.calendar.known_years  # …then the added year is used
