"""The web pages (docs/design.md §6) through the ASGI app: sign-in, sessions and CSRF, what each
role
sees, the library, the project page, replay, the overdue board, log status, filing forms, and
accessibility basics. Most tests run on the demo data set (``ledger demo``) over SQLite; the
store of the last ``ledger verify`` result runs on both backends."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from pagestest import Demo, csrf_of

from api.app import create_app
from api.pages.explain import detail_zh
from api.pages.i18n import message_zh
from api.pages.security import SESSION_COOKIE, open_session, seal, session_key
from api.pages.text import wan
from api.services import Actor, LedgerService
from ledger.app import Ledger
from ledger.evidence.bundle import verify_bundle
from ledger.log.checkpoint import SignedNote, SignerKey
from ledger.log.entries import b64encode
from ledger.measures import views
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from projections.replay import replay_library, replay_project
from projections.views import library_view
from witness.keys import CosignerKey

# --- helpers (the fixtures demo_template and demo are in conftest.py) ---------------------------


def _project_ids(html: str) -> set[str]:
    return set(re.findall(r'href="/projects/([0-9a-f-]{36})["?]', html))


# --- sign-in, sessions, CSRF -------------------------------------------------------------------


def test_pages_need_a_session_and_sign_in_sets_a_strict_httponly_cookie(demo: Demo) -> None:
    response = demo.client.get("/projects?unit=edu", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fprojects%3Funit%3Dedu"
    page = demo.client.get("/signin")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    csrf = csrf_of(page.text)
    bad = demo.client.post("/signin", data={"csrf": csrf, "token": "not-a-real-token-xyz"})
    assert bad.status_code == 401
    assert "令牌无效或已被吊销" in bad.text
    good = demo.client.post("/signin", data={"csrf": csrf, "token": demo.token("office-li"),
                                             "next": "/projects?unit=edu"},
                            follow_redirects=False)
    assert good.status_code == 303
    assert good.headers["location"] == "/projects?unit=edu"
    cookie = good.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert demo.token("office-li") not in cookie  # a session id, never the bearer token
    library = demo.client.get("/projects?unit=edu")
    assert library.status_code == 200
    assert "综合管理办公室 李主任" in library.text


def test_every_post_needs_the_csrf_token(demo: Demo) -> None:
    page = demo.client.get("/signin")
    token = demo.token("office-li")
    assert demo.client.post("/signin", data={"token": token}).status_code == 403
    assert demo.client.post("/signin", data={"token": token,
                                             "csrf": "x" * 32}).status_code == 403
    cross = demo.client.post("/signin", data={"token": token, "csrf": csrf_of(page.text)},
                             headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert "CSRF" in cross.text
    demo.sign_in("edu-wang")
    project = demo.project("edu-resources")
    form = demo.client.get(f"/projects/{project}/file?type=ProgressReported")
    size = demo.ledger.log.tree_size()
    for data in ({}, {"csrf": csrf_of(page.text)}):  # none, or the pre-sign-in one
        refused = demo.client.post(f"/projects/{project}/file", data={
            **data, "type": "ProgressReported",
            "payload": json.dumps(EXAMPLES["ProgressReported"])})
        assert refused.status_code == 403
    assert demo.ledger.log.tree_size() == size
    assert demo.client.post("/signout", data={}).status_code == 403
    assert demo.client.post("/log/verify", data={"csrf": csrf_of(form.text)},
                            headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403


def test_a_forged_expired_or_revoked_session_is_no_session(demo: Demo) -> None:
    key = session_key(demo.ledger.settings.master_key_bytes)
    token = demo.token("office-li")
    assert open_session(key, seal(key, token)) is not None
    assert open_session(key, seal(key, token, issued=1)) is None  # expired
    assert open_session(key, seal(b"k" * 32, token)) is None  # not ours
    demo.client.cookies.set(SESSION_COOKIE, seal(b"k" * 32, token))
    assert demo.client.get("/projects", follow_redirects=False).status_code == 303
    demo.sign_in("office-li")
    assert demo.client.get("/projects").status_code == 200
    demo.ledger.tokens.revoke("office-li")
    assert demo.client.get("/projects", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(demo: Demo) -> None:
    demo.sign_in("office-li")
    page = demo.client.get("/projects")
    response = demo.client.post("/signout", data={"csrf": csrf_of(page.text)},
                                follow_redirects=False)
    assert response.status_code == 303
    assert demo.client.get("/projects", follow_redirects=False).status_code == 303


# --- the library -------------------------------------------------------------------------------


def test_library_lists_every_project_with_totals_per_unit(demo: Demo) -> None:
    demo.sign_in("office-li")
    page = demo.client.get("/projects")
    assert page.status_code == 200
    assert "项目库" in page.text
    assert "第十二条" in page.text
    assert {str(p) for p in demo.result.projects.values()} == _project_ids(page.text)
    assert f"共 {len(demo.result.projects)} 个项目" in page.text  # every demo project
    service = LedgerService(demo.ledger)
    rows, _ = service.list_projects(Actor("office-li", Role.OFFICE, None), limit=1000)
    edu = [r for r in rows if r["unit"] == "edu"]
    facts = service.library_state().projects
    disbursed = sum(facts[str(r["id"])].disbursed_construction_fen for r in edu)
    filtered = demo.client.get("/projects?unit=edu")
    assert _project_ids(filtered.text) == {str(r["id"]) for r in edu}
    assert f"<td class=\"num\" data-label=\"已拨付建设资金\">{wan(disbursed)}</td>" in (
        filtered.text)  # the unit's construction funds disbursed, in 万元
    assert "教育和体育部" in filtered.text
    assert ">edu<" not in filtered.text


@pytest.mark.parametrize(("query", "keep"), [
    ("stage=in_construction", lambda r: r["stage"] == "in_construction"),
    ("year=2025", lambda r: r["fiscal_year"] == 2025),
    ("elig=construction", lambda r: r["eligible"]["construction"]),
    ("elig=not_operation_maintenance", lambda r: not r["eligible"]["operation_maintenance"]),
    ("overdue=yes", lambda r: r["overdue"] > 0),
    ("overdue=no&unit=health", lambda r: r["overdue"] == 0 and r["unit"] == "health"),
])
def test_library_filters(demo: Demo, query: str, keep: Callable[[dict[str, Any]], bool]) -> None:
    demo.sign_in("finance-zhao")
    rows, _ = LedgerService(demo.ledger).list_projects(
        Actor("finance-zhao", Role.FINANCE, None), limit=1000)
    expected = {str(r["id"]) for r in rows if keep(r)}
    assert expected, f"the demo has no project for {query}"
    page = demo.client.get(f"/projects?{query}")
    assert page.status_code == 200
    assert _project_ids(page.text) == expected


def test_a_unit_sees_only_its_own_projects(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    own = {str(demo.project(k)) for k in ("edu-resources", "campus", "campus-om")}
    page = demo.client.get("/projects")
    assert _project_ids(page.text) == own
    assert _project_ids(demo.client.get("/projects?unit=health").text) == set()
    other = demo.project("health-platform")
    for path in (f"/projects/{other}", f"/projects/{other}/file",
                 f"/projects/{other}/evidence.zip", f"/projects/{other}/report"):
        response = demo.client.get(path)
        assert response.status_code == 404, path
        assert "未找到该项目" in response.text
    board = demo.client.get("/overdue")
    assert _project_ids(board.text) <= own


# --- the project page ---------------------------------------------------------------------------


def test_project_page_timeline_eligibility_obligations_and_hashes(demo: Demo) -> None:
    demo.sign_in("office-li")
    project = demo.project("hanji-grid")
    page = demo.client.get(f"/projects/{project}")
    assert page.status_code == 200
    api = demo.client.get(f"/api/v1/projects/{project}", headers=demo.bearer("audit-sun"))
    views_ = api.json()["views"]
    for name, view in views_.items():  # the page and the API agree to the hash
        assert f'data-hash="{name}">{view["state_hash"]}<' in page.text
    entries = views_["project"]["state"]["entries"]
    svg = re.search(r"<svg class=\"timeline\".*?</svg>", page.text, re.S)
    assert svg is not None
    assert svg.group(0).count('class="tl-row"') == entries
    assert svg.group(0).count("✓") == entries  # every author signature verified
    assert "第9条" in svg.group(0)  # article tags
    assert "韩集镇 刘" in svg.group(0)  # signers by name
    eligibility = views_["eligibility"]["state"]
    for kind in ("construction", "operation_maintenance"):
        for reason in eligibility[kind]["reasons"]:
            said = detail_zh(reason["detail"])
            assert said is not None, reason["detail"]  # every reason has its Chinese words
            assert str(escape(said)) in page.text
            assert str(escape(reason["detail"])) not in page.text
            for cause in reason["caused_by"]:
                assert f'title="{cause}"' in page.text  # linked to the entry
    assert "不符合拨付条件" in page.text
    assert "第19条" in page.text
    for obligation in views_["obligations"]["state"]:
        if obligation["due"]:
            assert obligation["due"] in page.text
    assert f'href="/projects/{project}/evidence.zip"' in page.text
    assert f'href="/projects/{project}/report"' in page.text
    assert f"GET /api/v1/projects/{project}/evidence" not in page.text  # not for office staff
    assert "韩集镇" in page.text
    assert "town-hanji" not in page.text


def test_a_key_revoked_back_in_time_shows_as_invalid_on_the_timeline(demo: Demo) -> None:
    demo.sign_in("audit-sun")
    project = demo.project("edu-resources")
    before = demo.client.get(f"/projects/{project}")  # computed and remembered
    assert "✗" not in before.text
    events = demo.ledger.events_of(project)
    by_unit = [e for e in events if e.filing.actor == "edu-wang"]
    cut = by_unit[1].recorded_at  # a compromised key: revoked from its second filing on
    assert cut is not None
    demo.ledger.revoke_key(by_unit[1].filing.key, revoked_from=cut)
    after = demo.client.get(f"/projects/{project}")
    svg = re.search(r"<svg class=\"timeline\".*?</svg>", after.text, re.S)
    assert svg is not None
    bad = {e.originator_version for e in by_unit if (e.recorded_at or "") >= cut}
    for seq in bad:
        row = re.search(rf'<g class="tl-row" id="tl-{seq}">.*?</g>', svg.group(0), re.S)
        assert row is not None
        assert "✗" in row.group(0)
    assert svg.group(0).count("✗") == len(bad)


def test_evidence_bundle_and_printable_report(demo: Demo) -> None:
    demo.sign_in("investigator-zhou")
    project = demo.project("bigdata-cloud")
    bundle = demo.client.get(f"/projects/{project}/evidence.zip")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == "application/zip"
    assert "attachment" in bundle.headers["content-disposition"]
    identity = demo.ledger.identity
    verify_bundle(bundle.content, log_key=identity.log_key.encode(),
                  root_key=b64encode(identity.root_public_key))
    report = demo.client.get(f"/projects/{project}/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        title = json.loads(archive.read("bundle.json"))["projections"]["project"]["state"][
            "title"]
    assert title in report.text
    demo.sign_in("finance-zhao")  # the API's export rule: finance does not export
    refused = demo.client.get(f"/projects/{project}/evidence.zip")
    assert refused.status_code == 403
    assert "您的角色无权执行此操作" in refused.text


def test_language_switch(demo: Demo) -> None:
    demo.sign_in("office-li")
    project = demo.project("campus")
    chinese = demo.client.get(f"/projects/{project}")
    assert '<html lang="zh-CN">' in chinese.text
    assert "资金拨付条件" in chinese.text
    switch = demo.client.get(f"/lang/en?next=/projects/{project}", follow_redirects=False)
    assert switch.status_code == 303
    assert switch.headers["location"] == f"/projects/{project}"
    english = demo.client.get(f"/projects/{project}")
    assert '<html lang="en">' in english.text
    assert "Funding eligibility" in english.text
    assert "Art. 6" in english.text
    assert demo.client.get("/lang/en?next=https://evil.example",
                           follow_redirects=False).headers["location"] == "/projects"


# --- replay -------------------------------------------------------------------------------------


def test_replay_of_the_whole_library_shows_its_state_hash(demo: Demo) -> None:
    demo.sign_in("audit-sun")
    page = demo.client.get("/replay")
    assert page.status_code == 200
    assert 'name="as_known_at"' in page.text
    result = demo.client.get("/replay?as_known_at=2025-06-30T18:00&on=2025-06-30")
    assert result.status_code == 200
    known = "2025-06-30T10:00:00.000000Z"  # 18:00 in Beijing
    state = replay_library(demo.ledger, as_known_at=known)
    expected = views.state_hash(library_view(state, date(2025, 6, 30), demo.ledger.calendar))
    assert f'data-hash="library">{expected}<' in result.text
    assert _project_ids(result.text) == set(state.projects)
    assert len(state.projects) < len(demo.result.projects)  # fewer were known then


def test_replay_of_one_project_is_exact(demo: Demo) -> None:
    demo.sign_in("audit-sun")
    project = demo.project("market-kitchen")
    response = demo.client.get(f"/replay?as_known_at=2025-03-01T12:00:00&on=2025-03-01"
                               f"&project={project}", follow_redirects=False)
    assert response.status_code == 303
    page = demo.client.get(response.headers["location"])
    assert page.status_code == 200
    assert "回放：截至" in page.text
    replay = replay_project(demo.ledger, project, as_known_at="2025-03-01T04:00:00.000000Z",
                            on=date(2025, 3, 1))
    for name, view in replay.views.items():
        assert f'data-hash="{name}">{view["state_hash"]}<' in page.text
    svg = re.search(r"<svg class=\"timeline\".*?</svg>", page.text, re.S)
    assert svg is not None
    assert svg.group(0).count('class="tl-row"') == replay.entries
    bundle = demo.client.get(f"/projects/{project}/evidence.zip?as_known_at=2025-03-01T04%3A00"
                             f"%3A00.000000Z&on=2025-03-01")
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        exported = json.loads(archive.read("bundle.json"))
    assert len(exported["entries"]) == replay.entries


def test_bad_replay_input_is_a_page_not_a_500(demo: Demo) -> None:
    demo.sign_in("audit-sun")
    project = demo.project("campus")
    for path in ("/replay?as_known_at=yesterday", f"/projects/{project}?on=2025-13-01",
                 f"/projects/{project}?as_known_at=2020-01-01T00:00"):
        response = demo.client.get(path)
        assert response.status_code in {404, 422}, path
        assert response.headers["content-type"].startswith("text/html")
    assert demo.client.get("/projects/not-a-project").status_code == 404


# --- overdue board ------------------------------------------------------------------------------


def test_overdue_board_lists_open_and_overdue_obligations_by_due_date(demo: Demo) -> None:
    demo.sign_in("office-li")
    page = demo.client.get("/overdue")
    assert page.status_code == 200
    service = LedgerService(demo.ledger)
    overdue = service.obligations(Actor("office-li", Role.OFFICE, None), overdue_only=True)
    assert overdue
    for row in overdue:
        assert str(row["project"]) in page.text
    dues = re.findall(r'<td class="nowrap">(\d{4}-\d\d-\d\d|—)</td>', page.text)
    assert dues == sorted(dues)
    only = demo.client.get("/overdue?status=overdue")
    assert only.text.count('class="pill s-overdue"') == len(overdue)
    assert "s-open" not in only.text
    unit = str(overdue[0]["unit"])
    filtered = demo.client.get(f"/overdue?unit={unit}")
    assert all(u == unit for u in re.findall(r"<td>([a-z-]+)</td>", filtered.text))


# --- log status ---------------------------------------------------------------------------------


def test_log_status_shows_checkpoint_and_witness_lag(demo: Demo) -> None:
    ledger = demo.ledger
    key = SignerKey.generate("witness.audit.gaoxin.example")  # stored as the push task does
    latest = ledger.trusted_checkpoint()
    assert latest is not None
    line = CosignerKey(key.name, key.signer).cosign(
        SignedNote.parse(latest.note).checkpoint.body(), int(time.time()))
    ledger.log.put_cosignature(latest.size, line.name, line.key_id.hex(), line.line(),
                               ledger.now())
    demo.sign_in("office-li")
    page = demo.client.get("/log")
    assert page.status_code == 200
    assert f'data-field="size">{latest.size}<' in page.text
    assert latest.root.hex() in page.text
    assert "witness.audit.gaoxin.example" in page.text
    assert "已联署最新检查点" in page.text
    ledger.file("edu-wang", "ProgressReported", EXAMPLES["ProgressReported"] | {
        "document": None}, stream=demo.project("edu-resources"))
    lagging = demo.client.get("/log")
    assert "1 个条目" in lagging.text
    assert "立即校验" not in lagging.text  # office does not run the check


def test_verify_from_the_page_is_kept_with_its_time(demo: Demo) -> None:
    demo.sign_in("office-li")
    page = demo.client.get("/log")
    assert "尚无校验记录" in page.text
    refused = demo.client.post("/log/verify", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    demo.sign_in("audit-sun")
    page = demo.client.get("/log")
    done = demo.client.post("/log/verify", data={"csrf": csrf_of(page.text)},
                            follow_redirects=False)
    assert done.status_code == 303
    assert demo.client.app.state.verify_runs.wait(30)  # a run in the background (verify_runs)
    after = demo.client.get(done.headers["location"])
    assert 'data-field="verify">通过<' in after.text
    assert "audit-sun" in after.text
    last = LedgerService(demo.ledger).last_verify()
    assert last is not None
    assert last["ok"] is True
    assert last["entries"] == demo.ledger.log.tree_size()
    assert "verify-since" not in after.text  # the run covers the whole log
    demo.ledger.file("edu-wang", "ProgressReported", EXAMPLES["ProgressReported"] | {
        "document": None}, stream=demo.project("edu-resources"))
    later = demo.client.get("/log")
    assert "此后账本又新增 1 个条目，尚未经过校验。" in later.text


def test_admin_sees_the_log_but_no_project_data(demo: Demo) -> None:
    demo.sign_in("admin-zhou")
    home = demo.client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/log"
    assert demo.client.get("/log").status_code == 200
    library = demo.client.get("/projects")
    assert library.status_code == 403
    assert 'href="/projects"' not in demo.client.get("/log").text


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_verify_runs_are_kept_in_order(backend: str, request: pytest.FixtureRequest,
                                       tmp_path: Path) -> None:
    url = (f"sqlite:///{tmp_path}/l.db" if backend == "sqlite"
           else str(request.getfixturevalue("pg_schema_url")))
    ledger = Ledger(Settings(database_url=url, environment="test"))
    try:
        ledger.initialise()
        ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
        service = LedgerService(ledger)
        audit = Actor("audit-sun", Role.AUDIT, None)
        assert service.last_verify() is None
        for number in range(1, 6):
            result = service.run_verify(audit)
            assert result["ok"] is True
            assert ledger.log.get_meta(f"verify.run.{number}") is not None
            assert service.last_verify() == result
        with pytest.raises(Exception, match="integrity check"):
            service.run_verify(Actor("office-li", Role.OFFICE, None))
    finally:
        ledger.close()


# --- filing forms -------------------------------------------------------------------------------


def test_a_unit_files_a_progress_report_through_the_form(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    project = demo.project("edu-resources")
    before = demo.ledger.project(project).version
    form = demo.client.get(f"/projects/{project}/file")
    assert form.status_code == 200
    options = re.findall(r'<option value="(\w+)"', form.text)
    assert "ProgressReported" in options
    assert "ReviewOpinionIssued" not in options  # the office's, not a unit's
    form = demo.client.get(f"/projects/{project}/file?type=ProgressReported")
    payload = re.search(r'<textarea id="payload" name="payload"[^>]*>(.*?)</textarea>',
                        form.text, re.S)
    assert payload is not None
    prefilled = json.loads(payload.group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert prefilled["year"] == demo.ledger.today().year
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
    assert nonce is not None
    data = {"csrf": csrf_of(form.text), "nonce": nonce.group(1), "type": "ProgressReported",
            "payload": json.dumps(prefilled | {"summary": "页面填报的进展报告"},
                                  ensure_ascii=False), "effective": ""}
    filed = demo.client.post(f"/projects/{project}/file", data=data, follow_redirects=False)
    assert filed.status_code == 303, filed.text
    seq = before + 1
    assert filed.headers["location"] == f"/projects/{project}?filed={seq}#entry-{seq}"
    page = demo.client.get(filed.headers["location"])
    assert f"已记录：第 {seq} 条（建设进度和预算执行情况报告）" in page.text
    assert f'id="tl-{seq}"' in page.text
    assert demo.ledger.entry_at(project, seq) is not None
    again = demo.client.post(f"/projects/{project}/file", data=data, follow_redirects=False)
    assert again.headers["location"] == filed.headers["location"]  # the same nonce: once
    assert demo.ledger.project(project).version == seq


def test_form_errors_are_in_chinese_and_cite_the_article(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    project = demo.project("edu-resources")
    form = demo.client.get(f"/projects/{project}/file?type=ProgressReported")
    size = demo.ledger.log.tree_size()

    def post(payload: str, event_type: str = "ProgressReported", **extra: str) -> Any:
        return demo.client.post(f"/projects/{project}/file", data={
            "csrf": csrf_of(form.text), "type": event_type, "payload": payload, **extra})

    missing = post(json.dumps({"year": 2026, "budget_executed_fen": 1.5}))
    assert missing.status_code == 422
    assert 'data-field="summary"' in missing.text
    assert "必填项" in missing.text
    assert "金额应为以“分”为单位的整数" in missing.text
    assert "第14条" in missing.text
    assert 'aria-invalid="true"' in missing.text
    assert "页面填报" not in missing.text
    assert "1.5" in missing.text  # what was typed is kept
    broken = post("{not json")
    assert broken.status_code == 422
    assert "不是有效的 JSON" in broken.text
    bad_date = post(json.dumps(EXAMPLES["ProgressReported"]), effective="2026-02-30")
    assert "日期格式应为 YYYY-MM-DD" in bad_date.text
    assert demo.ledger.log.tree_size() == size
    demo.client.cookies.set("ledger_lang", "en")
    english = post(json.dumps({"year": 2026}))
    assert "summary" in english.text
    assert "required" in english.text
    assert "Art. 14" in english.text


def test_a_refusal_by_the_measures_names_rule_and_article(demo: Demo) -> None:
    demo.sign_in("civil-he")
    project = demo.project("civil-om")  # filed, not yet approved
    form = demo.client.get(f"/projects/{project}/file?type=ContractFiled")
    assert form.status_code == 200
    document = demo.ledger.add_document(b"%PDF-1.4 contract", "application/pdf")
    payload = dict(EXAMPLES["ContractFiled"]) | {"document": document.sha256}
    size = demo.ledger.log.tree_size()
    response = demo.client.post(f"/projects/{project}/file", data={
        "csrf": csrf_of(form.text), "type": "ContractFiled", "payload": json.dumps(payload)})
    assert response.status_code == 409, response.text
    assert "依据《管理办法》不予受理" in response.text
    assert "第9条" in response.text
    assert "尚无同意的审核意见" in response.text
    assert "评审意见是项目立项、资金安排、政府采购等工作的前提和依据" in response.text  # 原文
    assert demo.ledger.log.tree_size() == size


def test_art09_art10_art15_art26_flags_and_reasons_quote_the_articles_words(demo: Demo) -> None:
    demo.sign_in("office-li")
    page = demo.client.get(f"/projects/{demo.project('hanji-village')}")
    assert page.status_code == 200
    for label in ("合同签订早于评审意见生效", "未经同意向上申报", "合同金额超出核定预算",
                  "未按期完成目录编制及数据归集"):
        assert label in page.text
    quotes = re.findall(r'<q class="quote" lang="zh">([^<]*)</q>', page.text)
    for words in ("评审意见是项目立项、资金安排、政府采购等工作的前提和依据",
                  "须取得综合管理办公室同意申报的审核意见", "原则上超支不补",
                  "不再安排项目运行维护经费"):
        assert any(words in quote for quote in quotes), words


def test_a_unit_cannot_file_on_another_units_project_or_file_office_events(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    other = demo.project("health-platform")
    own = demo.project("edu-resources")
    form = demo.client.get(f"/projects/{own}/file")
    size = demo.ledger.log.tree_size()
    response = demo.client.post(f"/projects/{other}/file", data={
        "csrf": csrf_of(form.text), "type": "ProgressReported",
        "payload": json.dumps(EXAMPLES["ProgressReported"])})
    assert response.status_code == 404
    office_only = demo.client.post(f"/projects/{own}/file", data={
        "csrf": csrf_of(form.text), "type": "ReviewOpinionIssued",
        "payload": json.dumps(EXAMPLES["ReviewOpinionIssued"])})
    assert office_only.status_code == 403
    assert demo.ledger.log.tree_size() == size


def test_a_unit_opens_a_project_with_the_application_form(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    form = demo.client.get("/apply")
    assert form.status_code == 200
    assert "立项申请" in form.text
    for content in (b"example document: x",):
        demo.ledger.add_document(content, "text/plain")
    upload = demo.client.post("/documents", content=b"%PDF-1.4 a test document",
                              headers={"Content-Type": "application/pdf",
                                       "X-CSRF-Token": csrf_of(form.text)})
    assert upload.status_code == 200, upload.text
    assert re.fullmatch(r"[0-9a-f]{64}", upload.json()["sha256"])
    no_csrf = demo.client.post("/documents", content=b"%PDF-1.4 x",
                               headers={"Content-Type": "application/pdf"})
    assert no_csrf.status_code == 403
    sha = upload.json()["sha256"]
    payload = dict(EXAMPLES["ApplicationFiled"])
    payload["documents"] = {"declaration_form": sha, "construction_plan": sha,
                            "performance_targets": sha, "basis_documents": [sha],
                            "other_documents": []}
    payload["co_builders"] = []
    filed = demo.client.post("/apply", data={"csrf": csrf_of(form.text),
                                             "type": "ApplicationFiled",
                                             "payload": json.dumps(payload)},
                             follow_redirects=False)
    assert filed.status_code == 303, filed.text
    page = demo.client.get(filed.headers["location"])
    assert page.status_code == 200
    assert str(payload["title"]) in page.text


# --- accessibility and headers -----------------------------------------------------------------


class _Controls(HTMLParser):
    """Form controls, labels and the html lang of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.controls: list[dict[str, str | None]] = []
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        if tag == "label" and found.get("for"):
            self.labels.add(str(found["for"]))
        if tag in {"input", "select", "textarea"} and found.get("type") != "hidden":
            self.controls.append(found)


def _check_accessible(html: str) -> None:
    parser = _Controls()
    parser.feed(html)
    assert parser.lang in {"zh-CN", "en"}
    for control in parser.controls:
        assert control.get("aria-label") or control.get("id") in parser.labels, control
    assert 'href="#main"' in html  # skip link
    assert re.search(r'tabindex="[1-9]', html) is None  # no reordered tab sequence


def test_every_page_labels_its_controls_and_sets_lang(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    project = demo.project("edu-resources")
    pages = ["/projects", f"/projects/{project}", "/overdue", "/replay", "/log",
             f"/projects/{project}/file", "/apply",
             "/replay?as_known_at=2025-06-30T18:00&on=2025-06-30"]
    for lang in ("zh", "en"):
        demo.client.cookies.set("ledger_lang", lang)
        for path in pages:
            response = demo.client.get(path)
            assert response.status_code == 200, path
            _check_accessible(response.text)
    demo.client.cookies.clear()
    _check_accessible(demo.client.get("/signin").text)


def test_pages_are_not_cached_and_not_framed(demo: Demo) -> None:
    demo.sign_in("office-li")
    response = demo.client.get("/projects")
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert demo.client.get("/static/pages.css").status_code == 200
    assert demo.client.get("/static/pages.js").status_code == 200


def test_validation_messages_in_chinese() -> None:
    assert message_zh("required") == "必填项"
    assert message_zh("Input should be greater than 0") == "应大于 0"
    assert message_zh("Value error, required") == "必填项"
    assert "第7条" in message_zh("项目申报表 (declaration_form) is required for every application"
                                 " (Art. 7)")
    assert message_zh("something new").startswith("不符合要求：")


def test_pages_on_both_backends(ledger: Ledger) -> None:
    """Apply, read the project, the library and the log status on SQLite and PostgreSQL."""
    with TestClient(create_app(ledger=ledger)) as client:
        tokens = {a: ledger.tokens.issue(a) for a in ("edu-wang", "health-chen")}

        def sign_in(actor: str) -> str:
            client.cookies.clear()
            csrf = csrf_of(client.get("/signin").text)
            client.post("/signin", data={"csrf": csrf, "token": tokens[actor]})
            return csrf_of(client.get("/apply").text)

        csrf = sign_in("edu-wang")
        filed = client.post("/apply", data={
            "csrf": csrf, "type": "ApplicationFiled",
            "payload": json.dumps(EXAMPLES["ApplicationFiled"], ensure_ascii=False)},
            follow_redirects=False)
        assert filed.status_code == 303, filed.text
        project = filed.headers["location"].split("?")[0]
        page = client.get(project)
        assert page.status_code == 200
        assert page.text.count('class="tl-row"') == 1
        assert str(EXAMPLES["ApplicationFiled"]["title"]) in client.get("/projects").text
        assert "s-met_late" in page.text or "s-met" in page.text  # Art. 6 window
        log = client.get("/log")
        assert f'data-field="size">{ledger.log.tree_size()}<' in log.text
        sign_in("health-chen")
        assert client.get(project).status_code == 404
