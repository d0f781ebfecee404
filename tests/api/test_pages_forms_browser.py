"""The filing forms in a real browser (Debian's Chromium, headless, driven by Playwright): a unit
applies and uploads its documents through the form with no JSON typed, a refused contract shows
Art. 9 and its words beside the field, amounts typed in 万元 are filed as exact fen, and a unit
holding its own key signs in the browser (WebCrypto Ed25519). Skips as test_pages_browser.py
does where no browser can be had (fails under CI)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pagestest import Live, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.usefixtures("need_browser")


def _upload(page: Page, field_id: str, name: str, content: bytes) -> str:
    """Choose a file for a document input; wait until the form has filled in its SHA-256."""
    from playwright.sync_api import expect  # noqa: PLC0415

    page.locator(f"#{field_id}-file").set_input_files(
        {"name": name, "mimeType": "application/pdf", "buffer": content})
    sha = hashlib.sha256(content).hexdigest()
    expect(page.locator(f"#{field_id}")).to_have_value(sha)
    assert "已上传" in page.locator(f"#{field_id}").locator(
        "xpath=ancestor::div[@data-doc]").locator("output").inner_text()
    return sha


def test_a_unit_applies_and_uploads_its_documents_through_the_form(
        page: Page, live: Live) -> None:
    from playwright.sync_api import expect  # noqa: PLC0415

    sign_in(page, live, "edu-wang", "/apply")
    page.get_by_role("textbox", name="项目名称", exact=True).fill("浏览器表单申报：智慧校园二期")
    page.get_by_role("combobox", name="项目类别", exact=True).select_option(label="新建")
    page.get_by_label("项目概算/申请资金").fill("286.5")
    assert page.locator("#f-budget_estimate_fen ~ output, [data-money-yuan]").first \
        .inner_text() == "= 2,865,000.00 元"
    shas = {field: _upload(page, f"f-documents-{field}", f"{field}.pdf",
                           f"%PDF-1.4 {field}".encode())
            for field in ("declaration_form", "construction_plan", "performance_targets")}
    basis = page.locator('fieldset[data-path="documents.basis_documents"]')
    first = _upload(page, "f-documents-basis_documents-0", "规划.pdf", b"%PDF-1.4 plan")
    basis.get_by_role("button", name="添加").click()  # a second basis document
    second = _upload(page, "f-documents-basis_documents-1", "纪要.pdf", b"%PDF-1.4 minutes")
    others = [(f"附件{i}.pdf", f"%PDF-1.4 annex {i}".encode()) for i in (1, 2)]
    page.locator("#f-documents-other_documents-many").set_input_files(
        [{"name": n, "mimeType": "application/pdf", "buffer": b} for n, b in others])
    for i, (_name, content) in enumerate(others):  # several files at once: one item each
        expect(page.locator(f"#f-documents-other_documents-{i}")).to_have_value(
            hashlib.sha256(content).hexdigest())
    page.get_by_label("信息资源名称").fill("学生学籍信息")
    page.get_by_label("数据来源").fill("本单位业务采集")
    page.get_by_label("信息资源格式").select_option(label="数据库")
    page.get_by_label("更新周期").select_option(label="每日")
    page.get_by_label("共享属性").select_option(label="无条件共享")
    page.get_by_label("开放属性").select_option(label="不予开放")
    resources = page.locator('fieldset[data-path="data_resources"]')
    resources.get_by_role("button", name="添加").click()  # added, then removed again
    resources.locator("[data-item]").nth(1).get_by_role("button", name="删除此项").click()
    assert resources.locator("[data-item]").count() == 1
    assert page.locator("#payload").is_hidden()  # no JSON in sight
    page.get_by_role("button", name="提交并签名").click()
    page.wait_for_url("**/projects/*?filed=1*")
    project = UUID(page.url.split("/projects/")[1].split("?")[0])
    entry = live.ledger.entry_at(project, 1)
    assert entry is not None
    payload = entry.filing.payload
    assert payload["budget_estimate_fen"] == 286_500_000
    assert {k: payload["documents"][k] for k in shas} == shas
    assert payload["documents"]["basis_documents"] == [first, second]
    assert payload["documents"]["other_documents"] == [
        hashlib.sha256(content).hexdigest() for _name, content in others]
    assert len(payload["data_resources"]) == 1
    card = page.locator("#entry-1")
    assert "286.50 万元" in card.inner_text()
    assert "项目申报表.pdf" in card.inner_text()
    page.goto(live.url + "/projects")
    assert page.get_by_role("link", name="浏览器表单申报：智慧校园二期").count() == 1


def test_more_files_than_the_minute_allows_are_uploaded_after_waiting(
        page: Page, live: Live) -> None:
    """Chosen at once, 33 files pass the 30 uploads a minute: the form waits as the 429's
    ``Retry-After`` says and uploads the rest itself, with nothing to do again by hand."""
    from playwright.sync_api import expect  # noqa: PLC0415

    per_minute = live.ledger.settings.uploads_per_minute
    files = [(f"附件{i}.pdf", f"%PDF-1.4 many {i}".encode()) for i in range(per_minute + 3)]
    sign_in(page, live, "bigdata-zhang", "/apply")  # an actor no other test here uploads as
    page.locator("#f-documents-other_documents-many").set_input_files(
        [{"name": n, "mimeType": "application/pdf", "buffer": b} for n, b in files])
    for i, (_name, content) in enumerate(files):
        expect(page.locator(f"#f-documents-other_documents-{i}")).to_have_value(
            hashlib.sha256(content).hexdigest(), timeout=30_000)
    assert "上传过于频繁" not in page.content()
    for _name, content in files:
        assert live.ledger.log.get_document(hashlib.sha256(content).hexdigest()) is not None


def test_a_refused_contract_shows_article_9_and_its_words_beside_the_field(
        page: Page, live: Live) -> None:
    project = live.result.projects["civil-om"]  # filed, not yet approved
    sign_in(page, live, "civil-he", f"/projects/{project}/file?type=ContractFiled")
    page.get_by_label("合同编号").fill("HT-2026-021")
    page.get_by_label("供应商名称").fill("聊城某信息技术有限公司")
    page.get_by_label("合同金额").fill("48")
    page.get_by_label("签订日期").fill("2026-01-05")
    page.get_by_label("采购方式").select_option(label="公开招标")
    _upload(page, "f-document", "合同.pdf", b"%PDF-1.4 contract text")
    size = live.ledger.log.tree_size()
    page.get_by_role("button", name="提交并签名").click()
    beside = page.locator("#f-effective-refused")
    beside.wait_for()
    text = beside.inner_text()
    assert "第9条" in text
    assert "评审意见是项目立项、资金安排、政府采购等工作的前提和依据" in text
    assert beside.is_visible()
    near = page.locator('[data-path="effective"]')
    assert near.locator("#f-effective-refused").count() == 1  # in the field's own box
    assert page.get_by_label("合同编号").input_value() == "HT-2026-021"
    assert live.ledger.log.tree_size() == size


def test_amounts_typed_in_wan_are_filed_as_exact_fen(page: Page, live: Live) -> None:
    project = live.result.projects["edu-resources"]
    sign_in(page, live, "edu-wang", f"/projects/{project}/file?type=ProgressReported")
    seq = live.ledger.project(project).version + 1
    page.get_by_role("textbox", name="建设进度", exact=True).fill("表单填报：平台升级完成约八成")
    money = page.get_by_label("预算执行金额")
    money.fill("1.0000001")  # a tenth of a fen: not an amount
    assert "格式不正确" in page.locator("[data-money-yuan]").inner_text()
    money.fill("1234.567891")
    assert page.locator("[data-money-yuan]").inner_text() == "= 12,345,678.91 元"
    from playwright.sync_api import expect  # noqa: PLC0415

    page.get_by_text("专家：查看或编辑 JSON").click()  # the experts' view shows fen
    expect(page.locator("#payload")).to_have_attribute("data-filled", "1")
    shown = json.loads(page.locator("#payload").input_value())
    assert shown["budget_executed_fen"] == 1_234_567_891
    page.get_by_role("button", name="提交并签名").click()
    page.wait_for_url(f"**/projects/{project}?filed={seq}*")
    entry = live.ledger.entry_at(project, seq)
    assert entry is not None
    assert entry.filing.payload["budget_executed_fen"] == 1_234_567_891
    assert "1,234.567891 万元" in page.locator(f"#entry-{seq}").inner_text()


def test_a_unit_holding_its_own_key_signs_in_the_browser(
        page: Page, live: Live, tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    record = live.ledger.register_public_key("market-gao", public)
    seed = private.private_bytes_raw()
    key_file = tmp_path / "market-gao.key.json"
    key_file.write_text(json.dumps({"key_id": record.key_id, "suite": "ed25519",
                                    "private_key": base64.b64encode(seed).decode()}))
    project = live.result.projects["market-credit"]
    sign_in(page, live, "market-gao", f"/projects/{project}/file?type=ProgressReported")
    assert page.locator("form[data-filing]").get_attribute("data-webcrypto") == "ed25519"
    seq = live.ledger.project(project).version + 1
    page.get_by_role("textbox", name="建设进度", exact=True).fill("本单位自有密钥在浏览器中签名")
    page.get_by_label("预算执行金额").fill("10")
    page.get_by_label("在本浏览器中用本单位自己的密钥签名").check()
    page.locator("#key-file").set_input_files(str(key_file))
    page.get_by_role("button", name="提交并签名").click()
    page.wait_for_url(f"**/projects/{project}?filed={seq}*")
    entry = live.ledger.entry_at(project, seq)
    assert entry is not None
    assert entry.filing.key == record.key_id  # not the custodial key
    private.public_key().verify(base64.b64decode(entry.signature),
                                entry.filing.signing_bytes())
    assert "签名有效" in page.locator(f"#entry-{seq}").inner_text()
