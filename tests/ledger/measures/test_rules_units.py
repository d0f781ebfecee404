"""Unit standing and the application guard: Art. 22."""

from __future__ import annotations

import pytest
from rulebook import Script

from ledger.errors import RuleViolationError
from ledger.measures import rules


def test_art22_active_finding_bars_the_unit_from_new_altered_expanded_projects() -> None:
    script = Script().approved()
    finding = script.file("SharingNonComplianceFound", "2025-05-01", actor="office")
    standing = rules.unit_standing("edu", [script.facts])
    assert [(r.rule, r.article, r.caused_by) for r in standing] == [
        ("sharing_non_compliance", "Art. 22(1)", (finding.entry_hash,))]
    for kind in ("new", "expansion", "upgrade"):
        with pytest.raises(RuleViolationError) as caught:
            rules.check_application({"kind": kind}, "edu", standing)
        assert caught.value.rule == "unit_barred"
    # Operation and maintenance of existing systems is not barred by Art. 22's second clause.
    rules.check_application({"kind": "operation_maintenance"}, "edu", standing)


def test_art22_exemption_by_the_chief_data_representative_lifts_a_sharing_bar() -> None:
    # 不能进行信息共享……由……“首席数据代表”批准后,方可建设或者保留: the exemption is for data
    # that cannot be shared, so it lifts a finding of data not shared.
    script = Script().approved()
    script.file("SharingNonComplianceFound", "2025-05-01", actor="office", issue="not_shared")
    script.file("SharingExemptionGranted", "2025-06-01", actor="cdr")
    assert rules.unit_standing("edu", [script.facts]) == ()


def test_art22_restored_compliance_lifts_a_security_bar() -> None:
    script = Script().approved()
    finding = script.file("SecurityNonComplianceFound", "2025-05-01", actor="office")
    assert rules.unit_standing("edu", [script.facts])
    script.file("ComplianceRestored", "2025-07-01", actor="office", finding_seq=finding.seq)
    assert rules.unit_standing("edu", [script.facts]) == ()
