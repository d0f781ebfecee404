"""The filing forms generated from the catalogue (api.pages.formspec, api.pages.forms) and the
project page's entries in words (api.pages.entries), through the ASGI app on the demo data set
(SQLite) and, for one filing, on both backends.

The browser-side parts (uploads filling in references, repeated groups, browser signing) are
in test_pages_forms_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pagestest import Demo, csrf_of

from api.app import create_app
from api.pages.formspec import (
    FEN_PER_WAN,
    Node,
    fen_to_wan,
    form_for,
    form_values,
    parse_form,
    wan_to_fen,
)
from ledger.app import Ledger
from ledger.measures.catalogue import CATALOGUE, EXAMPLES, validate_payload

_CJK = re.compile(r"[\u3400-\u9fff]")
PROJECT_EVENTS = sorted(name for name, spec in CATALOGUE.items() if spec.stream == "project")


# --- helpers (the fixtures demo_template and demo are in conftest.py) ---------------------------


def _walk(nodes: tuple[Node, ...]) -> Iterator[Node]:
    for node in nodes:
        yield node
        yield from _walk(node.children)
        if node.item is not None:
            yield from _walk((node.item,))


def _upload(demo: Demo, csrf: str, content: bytes, media_type: str = "application/pdf") -> str:
    response = demo.client.post("/documents", content=content, headers={
        "Content-Type": media_type, "X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    sha = str(response.json()["sha256"])
    assert sha == hashlib.sha256(content).hexdigest()
    return sha


# --- the forms, generated ------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", PROJECT_EVENTS)
def test_every_field_and_choice_of_every_form_is_named_in_chinese(event_type: str) -> None:
    for node in _walk(form_for(CATALOGUE[event_type].payload)):
        assert _CJK.search(node.label_zh), (event_type, node.name, node.label_zh)
        for value, zh, _en in node.choices:
            assert _CJK.search(zh), (event_type, node.name, value, zh)


@pytest.mark.parametrize("event_type", PROJECT_EVENTS)
def test_the_form_holds_every_example_payload_exactly(event_type: str) -> None:
    """Shown in the form and posted back, the catalogue's example is the same payload."""
    spec = CATALOGUE[event_type]
    example = EXAMPLES[event_type]
    nodes = form_for(spec.payload, example)
    posted = form_values(nodes, example)
    assert not any(isinstance(v, float) for v in _leaves(posted))
    parsed = parse_form(nodes, posted)
    assert parsed.problems == []
    assert validate_payload(event_type, parsed.payload) == validate_payload(event_type, example)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_amounts_in_wan_are_exact_fen() -> None:
    assert wan_to_fen("286") == 286_000_000
    assert wan_to_fen("12.5") == 12_500_000
    assert wan_to_fen("1,234.567891") == 1_234_567_891
    assert wan_to_fen("0.000001") == 1
    assert wan_to_fen("9007199254.740991") == 2**53 - 1  # the largest amount JSON carries exactly
    for bad in ("1.0000001", "-5", "1e3", "12.", ".5", "abc", "", "1.2.3", "NaN", "Infinity"):
        with pytest.raises(ValueError, match=r".*"):
            wan_to_fen(bad)
    assert fen_to_wan(286_000_000) == "286.00"
    assert fen_to_wan(1_234_567_891) == "1,234.567891"
    assert fen_to_wan(1) == "0.000001"
    assert FEN_PER_WAN == 1_000_000


@given(st.integers(min_value=0, max_value=2**53 - 1))
def test_every_amount_in_fen_round_trips_through_wan(fen: int) -> None:
    shown = fen_to_wan(fen)
    assert wan_to_fen(shown) == fen
    assert Decimal(shown.replace(",", "")) * FEN_PER_WAN == fen


# --- filing through the form ---------------------------------------------------------------------


def _application(sha: str, **more: str | list[str]) -> dict[str, str | list[str]]:
    return {"type": "ApplicationFiled", "mode": "form", "title": "表单申报的测试项目",
            "kind": "new", "fiscal_year": "2026", "budget_estimate_fen": "286.5",
            "documents.declaration_form": sha, "documents.construction_plan": sha,
            "documents.performance_targets": sha, "documents.basis_documents[4]": sha,
            "data_resources[7].name": "企业基本信息", "data_resources[7].source": "本单位业务采集",
            "data_resources[7].format": "database",
            "data_resources[7].update_frequency": "daily",
            "data_resources[7].sharing": "unconditional",
            "data_resources[7].openness": "conditional", **more}


def test_a_unit_applies_through_the_form_with_no_json(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    form = demo.client.get("/apply")
    assert form.status_code == 200
    for label in ("项目名称", "项目类别", "项目概算/申请资金", "（万元）", "项目申报表",
                  "信息资源目录", "共享属性", "无条件共享", "属于第八条所列项目类别"):
        assert label in form.text, label
    assert 'type="date"' in form.text
    assert 'type="file"' in form.text
    assert '<textarea id="payload" name="payload"' in form.text  # the experts' JSON view
    csrf = csrf_of(form.text)
    sha = _upload(demo, csrf, b"%PDF-1.4 application materials")
    data = _application(sha, csrf=csrf, art8_categories=["hardware", "email"],
                        special_circumstances="与全区统一平台对接，确需单独建设。",
                        **{"co_builders[2]": "health", "co_builders[5]": ""})
    filed = demo.client.post("/apply", data=data, follow_redirects=False)
    assert filed.status_code == 303, filed.text
    project = UUID(filed.headers["location"].split("?")[0].rsplit("/", 1)[1])
    entry = demo.ledger.entry_at(project, 1)
    assert entry is not None
    payload = entry.filing.payload
    assert payload["budget_estimate_fen"] == 286_500_000
    assert payload["documents"]["basis_documents"] == [sha]
    assert payload["data_resources"] == [{
        "name": "企业基本信息", "source": "本单位业务采集", "format": "database",
        "update_frequency": "daily", "sharing": "unconditional", "openness": "conditional"}]
    assert payload["art8_categories"] == ["hardware", "email"]
    assert payload["co_builders"] == ["health"]  # the empty item is left out
    library = demo.client.get("/projects")
    assert "表单申报的测试项目" in library.text


def test_errors_show_beside_their_fields_in_chinese_and_keep_what_was_typed(
        demo: Demo) -> None:
    demo.sign_in("edu-wang")
    csrf = csrf_of(demo.client.get("/apply").text)
    sha = _upload(demo, csrf, b"%PDF-1.4 materials")
    size = demo.ledger.log.tree_size()
    data = _application(sha, csrf=csrf, budget_estimate_fen="1.0000001",
                        **{"data_resources[7].sharing": "conditional",
                           "documents.construction_plan": ""})
    response = demo.client.post("/apply", data=data)
    assert response.status_code == 422
    assert demo.ledger.log.tree_size() == size
    text = response.text
    money = re.search(r'id="f-budget_estimate_fen-err"[^>]*>(.*?)</ul>', text, re.S)
    assert money is not None
    assert "最多 6 位小数" in money.group(1)
    # the resource was item 7 on the page; the catalogue's data_resources[0] is shown there
    basis = re.search(r'id="f-data_resources-0-sharing_basis-err"[^>]*>(.*?)</ul>', text, re.S)
    assert basis is not None
    assert "当共享属性为“有条件共享”时必填" in unescape(basis.group(1))
    assert "第24条" in basis.group(1)
    plan = re.search(r'id="f-documents-construction_plan-err"[^>]*>(.*?)</ul>', text, re.S)
    assert plan is not None
    assert "缺少建设方案" in plan.group(1)
    assert "第7条" in plan.group(1)
    assert 'aria-invalid="true"' in text
    assert 'value="1.0000001"' in text  # what was typed is kept
    assert 'name="data_resources[0].name" value="企业基本信息"' in text
    assert "信息资源目录 第1项 · 有条件共享/不予共享的依据" in text  # the list at the top


def test_a_refused_contract_cites_article_9_beside_the_effective_date(demo: Demo) -> None:
    demo.sign_in("civil-he")
    project = demo.project("civil-om")  # filed, not approved
    form = demo.client.get(f"/projects/{project}/file?type=ContractFiled")
    assert form.status_code == 200
    csrf = csrf_of(form.text)
    sha = _upload(demo, csrf, b"%PDF-1.4 contract")
    response = demo.client.post(f"/projects/{project}/file", data={
        "csrf": csrf, "type": "ContractFiled", "mode": "form", "contract_no": "HT-2026-09",
        "supplier": "测试供应商", "amount_fen": "12.5", "signed_on": "2026-01-05",
        "procurement_method": "public_tender", "document": sha})
    assert response.status_code == 409, response.text
    beside = re.search(r'<div class="field-refused" id="f-effective-refused"[^>]*>(.*?)</div>',
                       response.text, re.S)
    assert beside is not None
    assert "第9条" in beside.group(1)
    assert "评审意见是项目立项、资金安排、政府采购等工作的前提和依据" in beside.group(1)
    assert "尚无同意的审核意见" in beside.group(1)
    assert 'aria-describedby="f-effective-refused"' in response.text
    assert 'value="HT-2026-09"' in response.text
    assert f'value="{sha}"' in response.text


def test_a_decision_on_nothing_open_is_refused_beside_the_entry_it_cites(demo: Demo) -> None:
    demo.sign_in("office-li")
    project = demo.project("edu-resources")
    form = demo.client.get(f"/projects/{project}/file?type=AcceptanceExtensionDecided")
    response = demo.client.post(f"/projects/{project}/file", data={
        "csrf": csrf_of(form.text), "type": "AcceptanceExtensionDecided", "mode": "form",
        "request_seq": "2", "decision": "rejected", "remarks": "不同意"})
    assert response.status_code == 409, response.text
    beside = re.search(r'<div class="field-refused" id="f-request_seq-refused"[^>]*>(.*?)</div>',
                       response.text, re.S)
    assert beside is not None
    assert "引用的事项不存在或已处理" in beside.group(1)
    assert 'value="2"' in response.text


def test_the_preview_gives_the_json_and_the_bytes_a_browser_key_signs(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    project = demo.project("edu-resources")
    csrf = csrf_of(demo.client.get(f"/projects/{project}/file?type=ProgressReported").text)
    body = {"csrf": csrf, "type": "ProgressReported", "year": "2026",
            "summary": "平台完成约八成", "budget_executed_fen": "1234.567891",
            "nonce": "7a0c3a8e-1d2b-4c5d-8e9f-0a1b2c3d4e5f"}
    preview = demo.client.post(f"/forms/preview?project={project}", data=body)
    assert preview.status_code == 200
    assert preview.json()["payload"] == {"year": 2026, "summary": "平台完成约八成",
                                         "budget_executed_fen": 1_234_567_891}
    assert "signing_text" not in preview.json()
    signed = demo.client.post(f"/forms/preview?project={project}",
                              data=body | {"key": "edu-wang:000000000000"}).json()
    filing = json.loads(signed["signing_text"])
    assert filing["payload"]["budget_executed_fen"] == 1_234_567_891
    assert filing["stream"] == str(project)
    assert filing["nonce"] == body["nonce"]
    assert filing["key"] == "edu-wang:000000000000"
    assert filing["actor"] == "edu-wang"
    refused = demo.client.post(f"/forms/preview?project={project}", data=body | {"csrf": ""})
    assert refused.status_code == 403


_CODE = re.compile(r"^[0-9a-f]{8,}$|^[A-Za-z]{1,4}-[\w-]+$|^[\w.+/=:-]*\d[\w.+/=:-]*$")


def _english_words(page: str) -> set[str]:
    """Latin words a reader sees (not in scripts, tooltips, the closed JSON view, or codes)."""
    body = page.split("<body>", 1)[-1]
    body = re.sub(r"<(script|style|details|pre|title|code|datalist)\b.*?</\1>", " ", body,
                  flags=re.S)
    text = unescape(re.sub(r"<[^>]+>", " ", body))
    return {word for word in re.findall(r"(?<![.\w])[A-Za-z][A-Za-z0-9_.:+/=-]*", text)
            if word != "English" and not _CODE.match(word)}


@pytest.mark.parametrize(("actor", "project"), [("edu-wang", "edu-resources"),
                                                ("office-li", "edu-resources"),
                                                ("audit-sun", "edu-resources")])
def test_the_forms_and_their_errors_are_in_chinese(demo: Demo, actor: str,
                                                    project: str) -> None:
    demo.sign_in(actor)
    target = demo.project(project)
    checked = 0
    for name, spec in CATALOGUE.items():
        path = "/apply" if spec.opens_project else f"/projects/{target}/file"
        form = demo.client.get(f"{path}?type={name}")
        if spec.stream != "project" or f'name="type" value="{name}"' not in form.text:
            continue
        assert _english_words(form.text) == set(), name
        refused = demo.client.post(path, data={  # nothing filled in, or wrong choices
            "csrf": csrf_of(form.text), "type": name, "mode": "form",
            "kind": "operation_maintenance", "decision": "approved", "amount_fen": "0.1234567"})
        assert refused.status_code in (409, 422), name
        assert _english_words(refused.text) == set(), name
        checked += 1
    assert checked >= 3


def test_a_unit_signs_its_application_with_its_own_key(demo: Demo) -> None:
    """What the browser does with WebCrypto, done here with the same bytes: the preview gives
    the filing to sign, the form carries the signature, the server stores it untouched."""
    private = Ed25519PrivateKey.generate()
    record = demo.ledger.register_public_key("edu-wang", private.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw))
    demo.sign_in("edu-wang")
    form = demo.client.get("/apply")
    assert 'id="sign-client"' in form.text  # offered beside the custodial key
    csrf = csrf_of(form.text)
    sha = _upload(demo, csrf, b"%PDF-1.4 signed in the browser")
    data = _application(sha, csrf=csrf, nonce="3f1b0d9e-5a7c-4e2b-9d8f-6c5a4b3e2d1f")
    prepared = demo.client.post("/forms/preview", data=data | {"key": record.key_id}).json()
    signature = private.sign(prepared["signing_text"].encode("utf-8"))
    filed = demo.client.post("/apply", data=data | {
        "key": record.key_id, "signature": base64.b64encode(signature).decode(),
        "stream": prepared["stream"], "effective": prepared["effective"]},
        follow_redirects=False)
    assert filed.status_code == 303, filed.text
    assert filed.headers["location"].startswith(f"/projects/{prepared['stream']}?filed=1")
    entry = demo.ledger.entry_at(UUID(prepared["stream"]), 1)
    assert entry is not None
    assert entry.filing.key == record.key_id
    assert entry.filing.signing_bytes() == prepared["signing_text"].encode("utf-8")
    forged = demo.client.post("/apply", data=data | {
        "nonce": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "key": record.key_id,
        "signature": base64.b64encode(signature).decode(), "stream": prepared["stream"],
        "effective": prepared["effective"]})
    assert forged.status_code == 422  # another nonce: not what was signed
    assert "签名未通过校验" in forged.text


# --- the project page --------------------------------------------------------------------------


def test_the_project_page_shows_what_each_entry_says(demo: Demo) -> None:
    demo.sign_in("office-li")
    project = demo.project("hanji-village")
    page = demo.client.get(f"/projects/{project}")
    assert page.status_code == 200
    text = unescape(page.text)
    contract = re.search(r'<article class="entry" id="entry-4"(.*?)</article>', text, re.S)
    assert contract is not None
    body = contract.group(1)
    for words in ("合同备案", "合同编号", "HJZ-2025-001", "合同金额", "138.00 万元", "采购方式",
                  "竞争性磋商", "合同文本.txt", "文本", "签名有效", "日志叶子"):
        assert words in body, words
    entry = demo.ledger.entry_at(project, 4)
    assert entry is not None
    assert entry.entry_hash in body
    leaf = demo.ledger.log.leaf_for(project, 4)
    assert leaf is not None
    assert f"日志叶子 {leaf.leaf_index}" in body
    review = re.search(r'id="entry-3"(.*?)</article>', text, re.S)
    assert review is not None
    assert "审核结论" in review.group(1)
    assert "通过" in review.group(1)
    assert "90.00 万元" in review.group(1)
    # the documents download under their names, for those who may see the project
    link = re.search(r'href="(/projects/[^"]+/documents/([0-9a-f]{64}))"', body)
    assert link is not None
    document = demo.client.get(link.group(1))
    assert document.status_code == 200
    assert "filename*=UTF-8''%E5%90%88%E5%90%8C%E6%96%87%E6%9C%AC.txt" in \
        document.headers["content-disposition"]  # 合同文本.txt
    assert document.headers["content-security-policy"] == "sandbox"
    stored = demo.ledger.log.get_document(link.group(2))
    assert stored is not None
    assert document.content == stored.data
    other = demo.project("edu-resources")
    assert demo.client.get(f"/projects/{other}/documents/{link.group(2)}").status_code == 404
    demo.sign_in("edu-wang")  # another unit's project: not found
    assert demo.client.get(link.group(1)).status_code == 404


def test_the_project_page_shows_the_units_art22_standing_and_its_cause(demo: Demo) -> None:
    demo.sign_in("office-li")
    page = demo.client.get(f"/projects/{demo.project('civil-elderly')}")
    standing = re.search(r'id="unit-standing"(.*?)</div>', unescape(page.text), re.S)
    assert standing is not None
    assert "不得新建、改建、扩建政务信息系统" in standing.group(1)
    assert "第22条" in standing.group(1)
    assert "未按要求共享数据" in standing.group(1)
    free = demo.client.get(f"/projects/{demo.project('edu-resources')}")
    assert "未受限制" in free.text


def test_a_filing_through_the_form_on_both_backends(ledger: Ledger) -> None:
    with TestClient(create_app(ledger=ledger)) as client:
        client.cookies.clear()
        page = client.get("/signin")
        client.post("/signin", data={"csrf": csrf_of(page.text),
                                     "token": ledger.tokens.issue("edu-wang")})
        csrf = csrf_of(client.get("/apply").text)
        upload = client.post("/documents", content=b"%PDF-1.4 both backends", headers={
            "Content-Type": "application/pdf", "X-CSRF-Token": csrf})
        assert upload.status_code == 200, upload.text
        filed = client.post("/apply", data=_application(upload.json()["sha256"], csrf=csrf),
                            follow_redirects=False)
        assert filed.status_code == 303, filed.text
        project = UUID(filed.headers["location"].split("?")[0].rsplit("/", 1)[1])
        entry = ledger.entry_at(project, 1)
        assert entry is not None
        assert entry.filing.payload["budget_estimate_fen"] == 286_500_000
        shown = client.get(f"/projects/{project}")
        assert "286.50 万元" in shown.text
