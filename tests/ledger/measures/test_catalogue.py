"""The write-side catalogue (docs/design.md §3): who files what, under which article, and
validation."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.errors import UnknownEventTypeError, ValidationFailedError
from ledger.log.canonical import canonical_bytes
from ledger.measures.catalogue import (
    CATALOGUE,
    EXAMPLES,
    ApplicationFiled,
    ContractFiled,
    DocumentRef,
    ProjectKind,
    documents_referenced,
    example_payload,
    payload_json,
    required_application_documents,
    spec_for,
    validate_payload,
)
from ledger.measures.roles import Role

U, OFF, F, A, AU, C, AD = (Role.UNIT, Role.OFFICE, Role.FINANCE, Role.APPROVAL, Role.AUDIT,
                           Role.CDR, Role.ADMIN)

# docs/design.md §3, transcribed by hand: event -> (filed by, articles).
DESIGN_TABLE: dict[str, tuple[set[Role], tuple[int, ...]]] = {
    "ApplicationFiled": ({U}, (6, 7, 8, 24)),
    "MaterialsSupplemented": ({U}, (7,)),
    "HigherLevelDeclarationConsented": ({OFF}, (10,)),
    "HigherLevelApprovalRecorded": ({U}, (10,)),
    "FixedAssetApprovalIssued": ({A}, (5,)),
    "ReviewOpinionIssued": ({OFF}, (9,)),
    "FundingArranged": ({F}, (11, 21)),
    "FundsDisbursed": ({F}, (11, 15, 19, 22, 26, 30)),
    "ContractFiled": ({U}, (13,)),
    "ProgressReported": ({U}, (14,)),
    "ChangeRequested": ({U}, (16,)),
    "ChangeDecided": ({OFF}, (16,)),
    "IncidentReported": ({U}, (17,)),
    "RectificationOrdered": ({OFF}, (17, 22, 30)),
    "RectificationReported": ({U}, (17, 22, 30)),
    "RectificationConcluded": ({OFF}, (17, 22, 30)),
    "ConstructionSuspended": ({OFF}, (17, 30)),
    "ConstructionResumed": ({OFF}, (17, 30)),
    "FundingSuspended": ({OFF, F}, (22, 26, 30)),
    "FundingReinstated": ({OFF, F}, (22, 26, 30)),
    "CriticismNotified": ({OFF}, (30, 33)),
    "ProjectTerminated": ({OFF}, (30,)),
    "ConstructionCompleted": ({U}, (19,)),
    "AcceptanceExtensionRequested": ({U}, (19,)),
    "AcceptanceExtensionDecided": ({OFF}, (19,)),
    "PreliminaryAcceptanceCompleted": ({U}, (26,)),
    "AcceptanceReportFiled": ({U}, (19, 25, 29)),
    "CatalogCompleted": ({U}, (25, 26)),
    "SelfEvaluationSubmitted": ({U}, (20,)),
    "ThirdPartyEvaluationCommissioned": ({OFF}, (20,)),
    "SecurityAssessmentRecorded": ({U}, (27, 28)),
    "SharingNonComplianceFound": ({OFF}, (22,)),
    "SecurityNonComplianceFound": ({OFF}, (22,)),
    "SharingExemptionGranted": ({C}, (22,)),
    "ComplianceRestored": ({OFF}, (22, 26, 30)),
    "AuditFindingRecorded": ({AU}, (31,)),
    "InformationWithheldRecorded": ({AU, OFF}, (32,)),
    "FundsMisappropriationFound": ({AU}, (34,)),
    "DisciplinaryReferralMade": ({OFF, AU}, (33, 34, 35)),
    "HistoryAttested": ({OFF}, (6, 13, 14, 19)),
}
REGISTRY_EVENTS = ("ActorRegistered", "KeyRegistered", "KeyRevoked")
ALL_EVENTS = (*DESIGN_TABLE, *REGISTRY_EVENTS)

SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


def example(event_type: str) -> dict[str, Any]:
    """A fresh copy of the catalogue's example, typed loosely for editing."""
    raw: dict[str, Any] = example_payload(event_type)
    return raw


def problems_of(event_type: str, raw: dict[str, Any]) -> ValidationFailedError:
    with pytest.raises(ValidationFailedError) as info:
        validate_payload(event_type, raw)
    return info.value


def fields_of(error: ValidationFailedError) -> list[str]:
    return [path for path, _ in error.problems]


def walk(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Every (path, leaf-or-node) of plain JSON, paths as validate_payload writes them."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


def set_at(raw: dict[str, Any], path: str, new: object) -> None:
    """Replace the value at a path produced by :func:`walk`."""
    parts: list[str | int] = []
    for dotted in path.split("."):
        name, *indices = dotted.replace("]", "").split("[")
        parts.append(name)
        parts.extend(int(i) for i in indices)
    target: Any = raw
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = new


def application(kind: str = "new", civil_works: bool = False, **documents: Any) -> dict[str, Any]:
    raw = example("ApplicationFiled")
    raw["kind"] = kind
    raw["civil_works"] = civil_works
    raw["documents"] = documents
    if kind == "operation_maintenance":
        raw["related_project"] = "3f2b8c1e-6a4d-4e8b-9c7a-1d2e3f4a5b6c"
    return raw


def money_paths() -> list[tuple[str, str]]:
    return [(event, path) for event in ALL_EVENTS for path, _ in walk(EXAMPLES[event])
            if path.rsplit(".", 1)[-1].endswith("_fen")]


def document_paths() -> list[tuple[str, str]]:
    return [(event, path) for event in ALL_EVENTS for path, value in walk(EXAMPLES[event])
            if isinstance(value, str) and len(value) == 64
            and all(c in "0123456789abcdef" for c in value)]


# --- the catalogue itself (docs/design.md §3)
# ---------------------------------------------------------


def test_design_s3_every_event_is_catalogued_with_its_filers_and_articles() -> None:
    assert set(CATALOGUE) == set(ALL_EVENTS)
    for name, (filed_by, articles) in DESIGN_TABLE.items():
        spec = CATALOGUE[name]
        assert spec.name == name == spec.payload.__name__
        assert spec.filed_by == frozenset(filed_by), name
        assert spec.articles == articles, name
        assert spec.stream == "project", name
        assert spec.summary_zh, name


def test_design_s5_registry_events_are_filed_by_admin_on_the_registry_stream() -> None:
    for name in REGISTRY_EVENTS:
        spec = CATALOGUE[name]
        assert spec.filed_by == frozenset({AD})
        assert spec.stream == "registry"
        assert spec.articles == ()
        assert not spec.opens_project
        assert not spec.terminal


def test_only_application_opens_and_only_art30_termination_ends_a_project() -> None:
    assert [n for n, s in CATALOGUE.items() if s.opens_project] == ["ApplicationFiled"]
    assert [n for n, s in CATALOGUE.items() if s.terminal] == ["ProjectTerminated"]


def test_catalogue_and_specs_are_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOGUE["X"] = CATALOGUE["ContractFiled"]  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        CATALOGUE["ContractFiled"].terminal = True  # type: ignore[misc]


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventTypeError):
        spec_for("ContractSigned")
    with pytest.raises(UnknownEventTypeError):
        validate_payload("ContractSigned", {})


def test_art13_spec_for_returns_the_contract_spec() -> None:
    spec = spec_for("ContractFiled")
    assert spec.payload is ContractFiled
    assert spec.summary_zh == "合同备案"


# --- examples and canonical JSON ---------------------------------------------------------------


def test_every_event_has_an_example() -> None:
    assert set(EXAMPLES) == set(CATALOGUE)


@pytest.mark.parametrize("event_type", ALL_EVENTS)
def test_example_validates_and_round_trips_without_floats(event_type: str) -> None:
    raw = example(event_type)
    model = validate_payload(event_type, raw)
    assert isinstance(model, CATALOGUE[event_type].payload)
    data = payload_json(model)
    assert data == raw  # the examples are already canonical
    for path, value in walk(data):
        assert value is None or isinstance(value, str | int | bool | list | dict), path
        assert not isinstance(value, float), path
    assert validate_payload(event_type, data) == model
    assert canonical_bytes(data)  # hashable/signable as it stands


@pytest.mark.parametrize("event_type", ALL_EVENTS)
def test_payloads_are_frozen(event_type: str) -> None:
    model = validate_payload(event_type, example(event_type))
    name = next(iter(type(model).model_fields))
    with pytest.raises(ValidationError):
        setattr(model, name, None)


@pytest.mark.parametrize("event_type", ALL_EVENTS)
def test_every_payload_publishes_a_json_schema(event_type: str) -> None:
    schema = CATALOGUE[event_type].payload.model_json_schema()
    assert schema["additionalProperties"] is False
    keys = {path.rsplit(".", 1)[-1] for path, _ in walk(schema)}
    assert not keys & {"gt", "ge", "lt", "le", "strict"}  # pydantic-only keys leaking into OpenAPI


def test_payload_json_omits_absent_optionals_and_keeps_false_and_empty_lists() -> None:
    raw = example("ApplicationFiled")
    del raw["higher_level"]
    raw["co_builders"] = []
    raw["special_circumstances"] = None
    data = payload_json(validate_payload("ApplicationFiled", raw))
    assert "higher_level" not in data
    assert "special_circumstances" not in data
    assert "related_project" not in data
    assert data["co_builders"] == []
    assert data["fixed_asset_investment"] is False


def test_defaults_are_written_out_so_one_payload_has_one_json_form() -> None:
    raw = example("ApplicationFiled")
    del raw["civil_works"], raw["co_builders"]
    data = payload_json(validate_payload("ApplicationFiled", raw))
    assert data["civil_works"] is False
    assert data["co_builders"] == []
    assert payload_json(validate_payload("ApplicationFiled", data)) == data


def test_text_is_stripped_and_blank_text_rejected() -> None:
    raw = example("ProjectTerminated")
    raw["reason"] = "  终止  "
    assert payload_json(validate_payload("ProjectTerminated", raw))["reason"] == "终止"
    raw["reason"] = "   "
    assert fields_of(problems_of("ProjectTerminated", raw)) == ["reason"]


# --- money, dates, hashes, extra fields ------------------------------------------------------


@pytest.mark.parametrize(("event_type", "path"), money_paths())
@pytest.mark.parametrize("bad", [1.0, 1.5, "100", True, -1, [1]])
def test_money_is_integer_fen_floats_and_strings_rejected(event_type: str, path: str,
                                                           bad: object) -> None:
    raw = example(event_type)
    set_at(raw, path, bad)
    error = problems_of(event_type, raw)
    assert path in fields_of(error)


def test_money_paths_cover_the_money_events() -> None:
    events = {event for event, _ in money_paths()}
    assert {"ApplicationFiled", "FundsDisbursed", "ContractFiled", "FundingArranged",
            "ReviewOpinionIssued", "AuditFindingRecorded"} <= events


@given(st.integers(min_value=1, max_value=2**53 - 1))
def test_art15_any_positive_fen_amount_round_trips_exactly(amount: int) -> None:
    raw = example("FundsDisbursed")
    raw["amount_fen"] = amount
    assert payload_json(validate_payload("FundsDisbursed", raw))["amount_fen"] == amount


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_art15_no_float_is_ever_money(amount: float) -> None:
    raw = example("FundsDisbursed")
    raw["amount_fen"] = amount
    with pytest.raises(ValidationFailedError):
        validate_payload("FundsDisbursed", raw)


def test_money_beyond_2_pow_53_is_rejected_as_unsignable() -> None:
    raw = example("FundsDisbursed")
    raw["amount_fen"] = 2**53
    assert fields_of(problems_of("FundsDisbursed", raw)) == ["amount_fen"]


def test_art11_zero_disbursement_is_meaningless_but_zero_audit_amount_is_allowed() -> None:
    raw = example("FundsDisbursed")
    raw["amount_fen"] = 0
    assert fields_of(problems_of("FundsDisbursed", raw)) == ["amount_fen"]
    raw = example("AuditFindingRecorded")
    raw["amount_fen"] = 0
    validate_payload("AuditFindingRecorded", raw)


@pytest.mark.parametrize(("event_type", "path"), document_paths())
@pytest.mark.parametrize("bad", ["A" * 64, "a" * 63, "g" * 64, "", 123])
def test_invalid_sha256_document_reference_is_rejected(event_type: str, path: str,
                                                      bad: object) -> None:
    raw = example(event_type)
    set_at(raw, path, bad)
    assert path in fields_of(problems_of(event_type, raw))


@pytest.mark.parametrize("event_type", ALL_EVENTS)
def test_extra_fields_are_rejected(event_type: str) -> None:
    raw = example(event_type)
    raw["remark_extra"] = "x"
    error = problems_of(event_type, raw)
    assert error.problems == (("remark_extra", "not a field of this event"),)


def test_extra_fields_in_nested_parts_are_rejected() -> None:
    raw = example("ApplicationFiled")
    raw["documents"]["budget_table"] = SHA_A
    raw["data_resources"][1]["owner"] = "x"
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["documents.budget_table", "data_resources[1].owner"]


@pytest.mark.parametrize("bad", ["2027/03/20", "20270320", "2027-02-30", "2027-03-20T00:00:00",
                                 20270320, "0207-03-20"])
def test_art19_completion_date_must_be_an_iso_calendar_date(bad: object) -> None:
    assert fields_of(problems_of("ConstructionCompleted", {"completed_on": bad})) == [
        "completed_on"
    ]


def test_dates_parse_to_date_objects() -> None:
    model = validate_payload("ContractFiled", example("ContractFiled"))
    assert isinstance(model, ContractFiled)
    assert model.signed_on == date(2026, 4, 17)


@pytest.mark.parametrize("bad", ["true", 1, None])
def test_flags_are_json_booleans(bad: object) -> None:
    raw = example("ApplicationFiled")
    raw["civil_works"] = bad
    assert "civil_works" in fields_of(problems_of("ApplicationFiled", raw))


def test_payload_must_be_an_object() -> None:
    error = problems_of("ContractFiled", [])  # type: ignore[arg-type]
    assert error.problems == (("$", "expected a JSON object"),)


def test_art13_every_problem_is_listed_not_only_the_first() -> None:
    raw = example("ContractFiled")
    raw["amount_fen"] = 12.5
    raw["signed_on"] = "17/04/2026"
    raw["document"] = "not-a-hash"
    raw["procurement_method"] = "handshake"
    del raw["supplier"]
    raw["colour"] = "blue"
    error = problems_of("ContractFiled", raw)
    assert sorted(fields_of(error)) == sorted(
        ["amount_fen", "signed_on", "document", "procurement_method", "supplier", "colour"]
    )
    assert error.articles == (13,)
    assert error.event_type == "ContractFiled"


# --- Art. 7: application documents ----------------------------------------------------------


def test_art7_new_project_without_construction_plan_names_it() -> None:
    raw = application("new", declaration_form=SHA_A, performance_targets=SHA_B,
                      basis_documents=[SHA_C])
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["documents.construction_plan"]
    assert error.articles == (7,)
    assert "建设方案" in error.problems[0][1]


@pytest.mark.parametrize("kind", ["new", "expansion", "upgrade"])
def test_art7_construction_kinds_need_plan_declaration_targets_and_basis(kind: str) -> None:
    error = problems_of("ApplicationFiled", application(kind))
    assert fields_of(error) == ["documents.declaration_form", "documents.performance_targets",
                                "documents.basis_documents", "documents.construction_plan"]
    assert error.articles == (7,)


def test_art7_operation_maintenance_needs_prior_contract_and_performance_report() -> None:
    raw = application("operation_maintenance", declaration_form=SHA_A,
                      performance_targets=SHA_B, basis_documents=[SHA_C])
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["documents.prior_contract", "documents.prior_performance_report"]
    assert error.articles == (7,)
    raw["documents"] |= {"prior_contract": SHA_A, "prior_performance_report": SHA_B}
    model = validate_payload("ApplicationFiled", raw)  # no construction plan needed
    assert isinstance(model, ApplicationFiled)
    assert model.kind is ProjectKind.OPERATION_MAINTENANCE


def test_art7_operation_maintenance_names_the_project_it_maintains() -> None:
    raw = application("operation_maintenance", declaration_form=SHA_A,
                      performance_targets=SHA_B, basis_documents=[SHA_C],
                      prior_contract=SHA_A, prior_performance_report=SHA_B)
    del raw["related_project"]
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["related_project"]
    raw["related_project"] = "not-a-uuid"
    assert fields_of(problems_of("ApplicationFiled", raw)) == ["related_project"]


def test_art7_civil_works_need_feasibility_design_and_estimate() -> None:
    raw = application("new", civil_works=True, declaration_form=SHA_A, construction_plan=SHA_A,
                      performance_targets=SHA_B, basis_documents=[SHA_C])
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["documents.feasibility_study", "documents.preliminary_design",
                                "documents.investment_estimate"]
    assert error.articles == (7,)
    raw["civil_works"] = False
    validate_payload("ApplicationFiled", raw)


def test_art7_required_documents_table() -> None:
    assert required_application_documents(ProjectKind.UPGRADE, civil_works=False) == (
        "declaration_form", "performance_targets", "basis_documents", "construction_plan")
    assert set(required_application_documents(ProjectKind.OPERATION_MAINTENANCE,
                                              civil_works=True)) == {
        "declaration_form", "performance_targets", "basis_documents", "prior_contract",
        "prior_performance_report", "feasibility_study", "preliminary_design",
        "investment_estimate"}


def test_art7_missing_documents_are_listed_alongside_other_bad_fields() -> None:
    raw = application("new", declaration_form="A" * 64, performance_targets=SHA_B,
                      basis_documents=[SHA_C])
    raw["budget_estimate_fen"] = 1.5
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["budget_estimate_fen", "documents.declaration_form",
                                "documents.construction_plan"]
    assert error.articles == (6, 7, 8, 24)


def test_art7_model_construction_enforces_documents_too() -> None:
    raw = application("new")
    with pytest.raises(ValidationError):
        ApplicationFiled.model_validate(raw)


def test_art7_supplement_must_add_a_document() -> None:
    error = problems_of("MaterialsSupplemented", {"documents": {}})
    assert fields_of(error) == ["documents"]
    assert error.articles == (7,)


# --- Arts. 8 and 24: categories and data resources ---------------------------------------------


def test_art8_categories_without_special_circumstances_are_recorded_not_refused() -> None:
    raw = example("ApplicationFiled")
    raw["art8_categories"] = ["hardware", "video_surveillance"]
    del raw["special_circumstances"]
    model = validate_payload("ApplicationFiled", raw)
    assert isinstance(model, ApplicationFiled)
    assert model.special_circumstances is None


def test_art8_unknown_or_repeated_category_is_rejected() -> None:
    raw = example("ApplicationFiled")
    raw["art8_categories"] = ["blockchain"]
    assert fields_of(problems_of("ApplicationFiled", raw)) == ["art8_categories[0]"]
    raw["art8_categories"] = ["email", "email"]
    assert fields_of(problems_of("ApplicationFiled", raw)) == ["art8_categories"]


def test_art24_application_needs_an_information_resource_catalogue() -> None:
    raw = example("ApplicationFiled")
    raw["data_resources"] = []
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["data_resources"]
    assert error.articles == (24,)


def test_art24_each_data_resource_states_its_attributes() -> None:
    raw = example("ApplicationFiled")
    raw["data_resources"][0] = {"name": "企业基本信息"}
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == [f"data_resources[0].{f}" for f in
                                ("source", "format", "update_frequency", "sharing", "openness")]


@pytest.mark.parametrize("sharing", ["conditional", "not_shared"])
def test_art24_restricted_sharing_states_its_basis(sharing: str) -> None:
    raw = example("ApplicationFiled")
    raw["data_resources"][0]["sharing"] = sharing
    error = problems_of("ApplicationFiled", raw)
    assert fields_of(error) == ["data_resources[0].sharing_basis"]
    assert error.articles == (24,)


def test_art24_sharing_attribute_uses_the_three_official_values() -> None:
    raw = example("ApplicationFiled")
    raw["data_resources"][0]["sharing"] = "无条件共享"
    assert fields_of(problems_of("ApplicationFiled", raw)) == ["data_resources[0].sharing"]


# --- Art. 9: review opinion ----------------------------------------------------------------


def test_art9_review_names_the_five_criteria() -> None:
    raw = example("ReviewOpinionIssued")
    del raw["criteria"]["cryptography_compliance"]
    assert fields_of(problems_of("ReviewOpinionIssued", raw)) == [
        "criteria.cryptography_compliance"
    ]


@pytest.mark.parametrize("decision", ["approved", "approved_with_conditions"])
def test_art9_approving_opinion_needs_approved_budget(decision: str) -> None:
    raw = example("ReviewOpinionIssued")
    raw["decision"] = decision
    raw["criteria"]["security_solution"] = {"passed": True, "remarks": ""}
    if decision == "approved":
        raw["conditions"] = []
    del raw["approved_budget_fen"]
    error = problems_of("ReviewOpinionIssued", raw)
    assert fields_of(error) == ["approved_budget_fen"]
    assert error.articles == (9,)


@pytest.mark.parametrize("decision", ["revise", "rejected"])
def test_art9_non_approving_opinion_has_no_budget_and_no_conditions(decision: str) -> None:
    raw = example("ReviewOpinionIssued")
    raw["decision"] = decision
    error = problems_of("ReviewOpinionIssued", raw)
    assert fields_of(error) == ["approved_budget_fen", "conditions"]
    del raw["approved_budget_fen"]
    raw["conditions"] = []
    validate_payload("ReviewOpinionIssued", raw)


def test_art9_conditional_approval_needs_conditions() -> None:
    raw = example("ReviewOpinionIssued")
    raw["conditions"] = []
    assert fields_of(problems_of("ReviewOpinionIssued", raw)) == ["conditions"]


def test_art9_unconditional_approval_with_a_failed_criterion_is_contradictory() -> None:
    raw = example("ReviewOpinionIssued")
    raw["decision"] = "approved"
    raw["conditions"] = []
    error = problems_of("ReviewOpinionIssued", raw)
    assert fields_of(error) == ["criteria.security_solution.passed"]


def test_art9_failed_criterion_needs_remarks() -> None:
    raw = example("ReviewOpinionIssued")
    raw["criteria"]["security_solution"]["remarks"] = " "
    error = problems_of("ReviewOpinionIssued", raw)
    assert fields_of(error) == ["criteria.security_solution.remarks"]
    assert error.articles == (9,)


# --- Arts. 16, 19: changes, extensions, acceptance -------------------------------------------


def test_art16_change_values_match_the_changed_aspects() -> None:
    raw = example("ChangeRequested")
    raw["aspects"] = ["budget", "site"]
    error = problems_of("ChangeRequested", raw)
    assert fields_of(error) == ["new_values.site", "new_values.schedule"]
    raw["aspects"] = []
    assert "aspects" in fields_of(problems_of("ChangeRequested", raw))


def test_art16_rejected_change_approves_no_budget() -> None:
    raw = example("ChangeDecided")
    raw["decision"] = "rejected"
    assert fields_of(problems_of("ChangeDecided", raw)) == ["approved_budget_fen"]


def test_art19_approved_extension_fixes_a_new_deadline() -> None:
    raw = example("AcceptanceExtensionDecided")
    del raw["new_deadline"]
    assert fields_of(problems_of("AcceptanceExtensionDecided", raw)) == ["new_deadline"]
    raw["decision"] = "rejected"
    validate_payload("AcceptanceExtensionDecided", raw)


def test_art19_acceptance_report_missing_components_lists_all() -> None:
    raw = example("AcceptanceReportFiled")
    raw["documents"] = {}
    error = problems_of("AcceptanceReportFiled", raw)
    assert fields_of(error) == [
        "documents.construction_summary", "documents.financial_report",
        "documents.audit_report", "documents.security_risk_assessment",
        "documents.cryptography_application",
    ]
    assert error.articles == (19,)


def test_art19_missing_component_reported_with_a_bad_date() -> None:
    raw = example("AcceptanceReportFiled")
    del raw["documents"]["audit_report"]
    raw["accepted_on"] = "2027-8-15"
    error = problems_of("AcceptanceReportFiled", raw)
    assert fields_of(error) == ["accepted_on", "documents.audit_report"]


def test_art25_art29_acceptance_records_catalogue_and_product_security_as_stated() -> None:
    raw = example("AcceptanceReportFiled")
    raw["sharing_catalogue"] = {"included": False, "catalogue_codes": [],
                                "remarks": "目录编制尚未完成"}
    raw["product_security"]["security_review_passed"] = False
    validate_payload("AcceptanceReportFiled", raw)  # a true fact, recorded and flagged later
    del raw["product_security"]
    assert fields_of(problems_of("AcceptanceReportFiled", raw)) == ["product_security"]


def test_art25_included_resources_name_their_catalogue_entries() -> None:
    raw = example("AcceptanceReportFiled")
    raw["sharing_catalogue"]["catalogue_codes"] = []
    assert fields_of(problems_of("AcceptanceReportFiled", raw)) == [
        "sharing_catalogue.catalogue_codes"
    ]


def test_art26_catalogue_needs_entries() -> None:
    raw = example("CatalogCompleted")
    raw["entries"] = []
    assert fields_of(problems_of("CatalogCompleted", raw)) == ["entries"]


def test_art27_protection_level_is_one_to_five() -> None:
    raw = example("SecurityAssessmentRecorded")
    for bad in (0, 6, "3", 3.0):
        raw["protection_level"] = bad
        assert fields_of(problems_of("SecurityAssessmentRecorded", raw)) == ["protection_level"]


def test_art30_rectification_cites_real_articles_and_a_date_deadline() -> None:
    raw = example("RectificationOrdered")
    raw["cited_articles"] = [22, 40]
    raw["deadline"] = "next month"
    assert fields_of(problems_of("RectificationOrdered", raw)) == ["cited_articles[1]",
                                                                    "deadline"]
    raw = example("RectificationOrdered")
    raw["cited_articles"] = []
    assert fields_of(problems_of("RectificationOrdered", raw)) == ["cited_articles"]


def test_art30_failed_rectification_says_why() -> None:
    raw = example("RectificationConcluded")
    raw["outcome"] = "failed"
    del raw["remarks"]
    error = problems_of("RectificationConcluded", raw)
    assert fields_of(error) == ["remarks"]
    assert error.articles == (30,)


def test_art30_funding_suspension_scope_is_enumerated() -> None:
    raw = example("FundingSuspended")
    raw["scope"] = "everything"
    assert fields_of(problems_of("FundingSuspended", raw)) == ["scope"]


# --- Arts. 33–35: referrals carry role titles only ---------------------------------------------


def test_art33_referral_persons_are_role_titles_not_names() -> None:
    raw = example("DisciplinaryReferralMade")
    raw["persons"] = ["张三（身份证号370000199001011234）"]
    error = problems_of("DisciplinaryReferralMade", raw)
    assert fields_of(error) == ["persons[0]"]
    assert error.articles == (33, 34, 35)


def test_art33_referral_has_no_free_text_field() -> None:
    raw = example("DisciplinaryReferralMade")
    raw["details"] = "张三挪用资金"
    assert fields_of(problems_of("DisciplinaryReferralMade", raw)) == ["details"]


def test_art34_referral_lists_persons_once_and_at_least_one() -> None:
    raw = example("DisciplinaryReferralMade")
    raw["persons"] = ["finance_officer", "finance_officer"]
    assert fields_of(problems_of("DisciplinaryReferralMade", raw)) == ["persons"]
    raw["persons"] = []
    assert fields_of(problems_of("DisciplinaryReferralMade", raw)) == ["persons"]
    raw["persons"] = ["staff"] * 21
    assert fields_of(problems_of("DisciplinaryReferralMade", raw)) == ["persons"]


def test_art34_misappropriation_amount_is_positive() -> None:
    raw = example("FundsMisappropriationFound")
    raw["amount_fen"] = 0
    assert fields_of(problems_of("FundsMisappropriationFound", raw)) == ["amount_fen"]


# --- key registry (docs/design.md §5)
# -------------------------------------------------------------------


def test_registry_unit_actor_names_its_unit_and_others_do_not() -> None:
    raw = example("ActorRegistered")
    del raw["unit"]
    assert fields_of(problems_of("ActorRegistered", raw)) == ["unit"]
    raw["role"] = "office"
    validate_payload("ActorRegistered", raw)
    raw["unit"] = "unit-big-data-centre"
    assert fields_of(problems_of("ActorRegistered", raw)) == ["unit"]
    raw["role"] = "mayor"
    assert fields_of(problems_of("ActorRegistered", raw)) == ["role"]


def test_registry_key_is_canonical_base64_of_the_right_size() -> None:
    raw = example("KeyRegistered")
    raw["public_key"] = raw["public_key"].rstrip("=")
    assert fields_of(problems_of("KeyRegistered", raw)) == ["public_key"]
    raw["public_key"] = "AAAA"
    assert fields_of(problems_of("KeyRegistered", raw)) == ["public_key"]
    raw["suite"] = "rsa"
    assert fields_of(problems_of("KeyRegistered", raw)) == ["suite"]


@pytest.mark.parametrize("bad", ["2027-01-05T02:00:00Z", "2027-01-05T02:00:00.000000+08:00",
                                 "2027-01-05 02:00:00.000000Z", "2027-13-05T02:00:00.000000Z"])
def test_registry_revocation_time_is_rfc3339_utc_with_microseconds(bad: str) -> None:
    raw = example("KeyRevoked")
    raw["revoked_from"] = bad
    assert fields_of(problems_of("KeyRevoked", raw)) == ["revoked_from"]


# --- documents referenced ---------------------------------------------------------------------


def test_documents_referenced_finds_every_reference_sorted_and_deduplicated() -> None:
    raw = application("new", declaration_form=SHA_B, construction_plan=SHA_A,
                      performance_targets=SHA_B, basis_documents=[SHA_C, SHA_A])
    model = validate_payload("ApplicationFiled", raw)
    assert documents_referenced(model) == (SHA_A, SHA_B, SHA_C)


@pytest.mark.parametrize("event_type", ALL_EVENTS)
def test_documents_referenced_matches_the_hashes_in_the_json(event_type: str) -> None:
    model = validate_payload(event_type, example(event_type))
    paths = {path for event, path in document_paths() if event == event_type}
    in_json = {str(value) for path, value in walk(payload_json(model)) if path in paths}
    assert documents_referenced(model) == tuple(sorted(in_json))
    assert all(isinstance(ref, str) and len(ref) == 64 for ref in documents_referenced(model))


def test_documents_referenced_ignores_hash_like_free_text() -> None:
    raw = example("ProjectTerminated")
    raw["reason"] = SHA_C
    del raw["document"]
    assert documents_referenced(validate_payload("ProjectTerminated", raw)) == ()


def test_document_refs_are_typed() -> None:
    model = validate_payload("ContractFiled", example("ContractFiled"))
    assert isinstance(model, ContractFiled)
    assert isinstance(model.document, DocumentRef)
    assert copy.deepcopy(model) == model
