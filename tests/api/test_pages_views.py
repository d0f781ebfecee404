"""The reading pages beyond the basics, through the ASGI app over the demo data set (SQLite):
Chinese throughout (explanations, errors, unit names, Beijing time), money in 万元 with
construction and O&M apart, the library's search, sorting, paging and exports, the overdue
board's days overdue, the charts, the log's entry lookup, the administrator's pages and the
offline API docs. Unit names, kept in the ledger's metadata, are tested on both backends."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from pagestest import Demo

from api.pages.explain import detail_zh, error_message
from api.pages.i18n import event_label
from api.pages.text import cst_zoned, wan
from api.pages.units import UnitNames
from api.services import Actor, LedgerService
from ledger.app import Ledger
from ledger.errors import AuthorisationError, RuleViolationError
from ledger.log import merkle
from ledger.measures import rules
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledgertest import upload_example_documents

# --- helpers (the fixtures demo_template and demo are in conftest.py) ---------------------------


def visible_text(page: str) -> str:
    """What a reader sees: the body's text without scripts, styles, tooltips and the content
    of closed <details> (a raw JSON view for experts), <pre> (signed notes, bytes as signed)
    or <code> (ids, hashes and keys, which are codes)."""
    body = page.split("<body>", 1)[-1]
    body = re.sub(r"<(script|style|details|pre|title|code)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<svg\b.*?</svg>", lambda m: " ".join(re.findall(
        r"<text\b[^>]*>([^<]*)</text>", m.group(0))), body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


ALLOWED_LATIN = frozenset({
    "English",  # the language switch
    "CSV", "Excel",  # file formats on the export buttons
})
_CODE = re.compile(r"^[0-9a-f]{8,}$|^[A-Za-z]{1,4}-[\w-]+$|^[\w.+/=:-]*\d[\w.+/=:-]*$")


def latin_words(text: str) -> set[str]:
    """Words in Latin letters that are neither allowed names nor codes (hashes, contract
    numbers, key ids: anything with a digit)."""
    found = set()
    for word in re.findall(r"(?<![.\w])[A-Za-z][A-Za-z0-9_.:+/=-]*", text):  # not after a dot
        if word in ALLOWED_LATIN or _CODE.match(word):
            continue
        found.add(word)
    return found


def witness_names(page: str) -> set[str]:
    """The witnesses' names a page shows (the log page): names, like people's, are data."""
    listed = re.findall(r'data-field="witness">([^<]*)<', page)
    return {word for name in [*re.findall(r'data-witness="([^"]+)"', page), *listed]
            for word in re.split(r"[\s,]+", name) if word}


def table_ids(page: str) -> list[str]:
    """The project ids of the library table's rows, in order."""
    table = page.split('class="grid library cards"', 1)[1]
    return re.findall(r'class="title-cell"><a href="/projects/([0-9a-f-]{36})', table)


# --- Chinese throughout ---------------------------------------------------------------------


def test_every_sentence_the_demo_produces_has_its_chinese_words(demo: Demo) -> None:
    """Reasons, obligations, flags and unit standing, on dates across the demo's life."""
    ledger = demo.ledger
    state = LedgerService(ledger).library_state()
    unknown = set()
    for on in (date(2024, 6, 30), date(2025, 6, 30), date(2026, 6, 30), ledger.today()):
        for facts in state.projects.values():
            if facts.application is None:
                continue
            found = [*rules.flags(facts, ledger.calendar),
                     *rules.obligations(facts, on, ledger.calendar)]
            for kind in rules.FUNDING_KINDS:
                found.extend(rules.eligibility(facts, kind, on, ledger.calendar).reasons)
            unknown |= {item.detail for item in found if detail_zh(item.detail) is None}
        for unit in state.units():
            unknown |= {r.detail for r in rules.unit_standing(unit, state.projects_of(unit))
                        if detail_zh(r.detail) is None}
    assert unknown == set()


def test_refusals_and_errors_read_in_chinese() -> None:
    refused = RuleViolationError("exceeds_arranged_or_approved", "Art. 15",
                                 "disbursing 500000 fen exceeds what remains within the arranged"
                                 " and approved construction amounts (120000 fen; 超支不补)")
    said = error_message(409, str(refused), refused, "zh")
    assert said == ("拨付 5,000.00 元超出建设资金已安排且核定金额内的剩余额度 1,200.00 元"
                    "（超支不补）")
    barred = RuleViolationError("unit_barred", "Art. 22", "unit town-hanji may not apply for a new"
                                " project: data not shared as required on project 1 (平台):"
                                " unit town-hanji may not build new, altered or expanded systems")
    said = error_message(409, str(barred), barred, "zh",
                         lambda unit: "韩集镇" if unit == "town-hanji" else str(unit))
    assert said.startswith("韩集镇不得申报新建项目")
    assert "town-hanji" not in said
    denied = AuthorisationError("edu-wang", "manage actors and keys (admin only)")
    assert latin_words(error_message(403, str(denied), denied, "zh")) == set()
    assert error_message(403, str(denied), denied, "en") == str(denied)
    unknown = RuleViolationError("some_new_rule", "Art. 9", "an English sentence nobody knows")
    assert latin_words(error_message(409, str(unknown), unknown, "zh")) <= {"some_new_rule"}


@pytest.mark.parametrize("actor", ["office-li", "hanji-liu", "audit-sun", "admin-zhou"])
def test_no_english_sentence_on_a_chinese_page(demo: Demo, actor: str) -> None:
    demo.sign_in(actor)
    village = demo.result.projects["hanji-village"]
    reader = ["/projects", "/projects?sort=approved&dir=desc", f"/projects/{village}",
              "/overdue", "/charts", "/replay",
              "/replay?as_known_at=2025-06-30T18:00&on=2025-06-30",
              "/log/entry?q=40", f"/projects/{village}/report"]
    paths = (["/log", "/log/entry?q=3", "/log/entry?q=40", "/admin/actors", "/admin/units",
              "/admin/actors/hanji-liu", "/projects"] if actor == "admin-zhou"
             else ["/log", *reader])
    names = {word for record in demo.ledger.registry().actors.values()
             for word in record.display_name.split()}  # people's names are data
    for path in paths:
        page = demo.client.get(path)
        assert page.status_code in (200, 403, 404), path
        assert 'lang="zh-CN"' in page.text, path
        shown = latin_words(visible_text(page.text)) - witness_names(page.text)
        assert shown - names == set(), path


def test_units_show_by_name_and_times_in_beijing_time(demo: Demo) -> None:
    demo.sign_in("office-li")
    library = demo.client.get("/projects").text
    for name in ("韩集镇", "区大数据中心", "教育和体育部"):
        assert name in visible_text(library)
    assert not {"town-hanji", "bigdata"} & set(visible_text(library).split())
    assert cst_zoned("2026-03-02T01:02:03.000004Z", "zh") == "2026-03-02 09:02:03 北京时间"
    log = visible_text(demo.client.get("/log").text)
    assert "北京时间" in log


def test_the_october_flag_follows_the_day_the_ledger_recorded_the_application(
        demo: Demo) -> None:
    """非十月申报 shows exactly on applications recorded (Beijing time) outside October."""
    demo.sign_in("office-li")
    state = LedgerService(demo.ledger).library_state()
    flagged = {pid for pid, facts in state.projects.items() if facts.application is not None
               and int(facts.application.recorded_on[5:7]) != 10}
    assert str(demo.result.projects["emergency-command"]) in flagged  # applied in March
    assert str(demo.result.projects["hanji-village"]) not in flagged  # in October
    for project_id in state.projects:
        if state.projects[project_id].application is None:
            continue
        page = visible_text(demo.client.get(f"/projects/{project_id}").text)
        assert ("非十月申报" in page) == (project_id in flagged), project_id


# --- money ------------------------------------------------------------------------------------


def test_wan_is_exact_with_two_decimals() -> None:
    assert wan(1_234_567_800) == "1,234.57"
    assert wan(5_000) == "0.01"
    assert wan(4_999) == "0.00"
    assert wan(-15_000) == "-0.02"
    assert wan(None) == "—"
    assert wan(True) == "—"


def test_construction_and_om_money_are_apart(demo: Demo) -> None:
    demo.sign_in("office-li")
    state = LedgerService(demo.ledger).library_state()
    project = demo.result.projects["campus-om"]
    facts = state.projects[str(project)]
    assert facts.arranged_om_fen > 0
    page = demo.client.get(f"/projects?q={str(project)[:8]}").text
    row = page.split(f'href="/projects/{project}"', 1)[1].split("</tr>", 1)[0]
    assert f'data-label="已安排运维经费" class="num">{wan(facts.arranged_om_fen)}<' in row
    assert (f'data-label="已安排建设资金" class="num">{wan(facts.arranged_construction_fen)}<'
            in row)
    detail = demo.client.get(f"/projects/{project}").text
    whole, cents = divmod(facts.arranged_om_fen, 100)
    assert f"{whole:,}.{cents:02d} 元" in detail  # 元 on the detail page
    assert "运行维护经费不计入批复金额" in detail


def test_disbursed_beyond_the_approved_budget_is_explained(demo: Demo) -> None:
    from api.pages.routes import _env  # noqa: PLC0415 - the template itself

    template = _env.get_template("_amounts.html")
    t = {"money.over_approved": "OVER", "money.om_apart": "APART"}.get
    values = {"t": lambda key: t(key) or key, "yuan": str}
    over = template.render(row={"approved_budget_fen": 100, "contracted_fen": 0},
                           money={"arranged_c_fen": 0, "arranged_om_fen": 0,
                                  "disbursed_c_fen": 150, "disbursed_om_fen": 0}, **values)
    within = template.render(row={"approved_budget_fen": 100, "contracted_fen": 0},
                             money={"arranged_c_fen": 0, "arranged_om_fen": 90,
                                    "disbursed_c_fen": 100, "disbursed_om_fen": 90}, **values)
    assert "OVER" in over
    assert "OVER" not in within  # O&M money never counts against the approved budget


# --- the library ------------------------------------------------------------------------------


def test_library_search_by_title_unit_name_or_id_prefix(demo: Demo) -> None:
    demo.sign_in("office-li")
    state = LedgerService(demo.ledger).library_state()
    hanji = {pid for pid, f in state.projects.items() if f.title and "韩集镇" in f.title}
    by_title = table_ids(demo.client.get("/projects?q=韩集镇").text)
    assert hanji <= set(by_title)
    by_unit = set(table_ids(demo.client.get("/projects?q=卫生健康").text))
    assert by_unit == {pid for pid, f in state.projects.items()
                       if state.unit_of(f) == "health"}
    one = str(demo.result.projects["campus"])
    assert table_ids(demo.client.get(f"/projects?q={one[:6]}").text) == [one]
    assert table_ids(demo.client.get("/projects?q=没有这个项目").text) == []


def test_library_sorts_by_any_column(demo: Demo) -> None:
    demo.sign_in("office-li")
    state = LedgerService(demo.ledger).library_state()

    def approved(pid: str) -> int:
        return state.projects[pid].approved_budget_fen or 0

    down = table_ids(demo.client.get("/projects?sort=approved&dir=desc").text)
    assert [approved(p) for p in down] == sorted((approved(p) for p in down), reverse=True)
    up = table_ids(demo.client.get("/projects?sort=disbursed_om").text)
    om = [state.projects[p].disbursed_om_fen for p in up]
    assert om == sorted(om)
    page = demo.client.get("/projects?sort=approved&dir=desc").text
    assert 'aria-sort="descending"' in page


def test_library_pages_keep_the_search_and_order(demo: Demo) -> None:
    demo.sign_in("office-li")
    whole = table_ids(demo.client.get("/projects?sort=title&per=all").text)
    assert len(whole) == len(demo.result.projects)
    first = demo.client.get("/projects?sort=title&per=100").text
    assert table_ids(first) == whole  # the demo fits on one page of 100


@pytest.mark.parametrize("query", ["", "unit=town-hanji", "q=平台&sort=approved&dir=desc",
                                   "elig=not_construction&sort=overdue&dir=desc"])
def test_csv_and_excel_exports_equal_the_filtered_table(demo: Demo, query: str) -> None:
    demo.sign_in("office-li")
    shown = table_ids(demo.client.get(f"/projects?{query}&per=all").text)
    exported = demo.client.get(f"/library.csv?{query}")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["项目编号", "项目名称", "建设单位"]
    assert [r[0] for r in rows[1:]] == shown
    workbook = load_workbook(io.BytesIO(demo.client.get(f"/library.xlsx?{query}").content))
    sheet = workbook.active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [r[0] for r in cells[1:]] == shown
    state = LedgerService(demo.ledger).library_state()
    for row, values in zip(rows[1:], cells[1:], strict=True):
        facts = state.projects[row[0]]
        assert row[10] == wan(facts.disbursed_construction_fen).replace(",", "")
        assert f"{values[10]:.2f}" == row[10]  # the same number in Excel


def test_a_unit_exports_only_its_own_projects(demo: Demo) -> None:
    demo.sign_in("edu-wang")
    rows = list(csv.reader(io.StringIO(
        demo.client.get("/library.csv").content.decode("utf-8-sig"))))
    own = {str(demo.result.projects[k]) for k in ("edu-resources", "campus", "campus-om")}
    assert {r[0] for r in rows[1:]} == own


# --- the overdue board ------------------------------------------------------------------------


def test_overdue_board_counts_days_overdue_in_working_and_calendar_days(demo: Demo) -> None:
    demo.sign_in("office-li")
    today, calendar = demo.ledger.today(), demo.ledger.calendar
    page = demo.client.get("/overdue?status=overdue&sort=days&dir=desc").text
    rows = re.findall(r'<td class="nowrap" data-label="期限">([\d-]+)</td>.*?'
                      r'data-field="working-days">(\d+)</td>.*?data-field="calendar-days">(\d+)<',
                      page, re.S)
    assert rows
    days = [int(c) for _, _, c in rows]
    assert days == sorted(days, reverse=True)
    for due, working, calendar_days in rows:
        start = date.fromisoformat(due)
        assert int(calendar_days) == (today - start).days
        assert int(working) == calendar.working_days_between(start, today)
    exported = list(csv.reader(io.StringIO(demo.client.get(
        "/overdue.csv?status=overdue&sort=days&dir=desc").content.decode("utf-8-sig"))))
    assert [(r[0], r[2], r[3]) for r in exported[1:]] == rows
    sheet = load_workbook(io.BytesIO(demo.client.get(
        "/overdue.xlsx?status=overdue&sort=days&dir=desc").content)).active
    assert sheet is not None
    assert [str(r[3].value) for r in sheet.iter_rows(min_row=2)] == [c for _, _, c in rows]


# --- charts -----------------------------------------------------------------------------------


def test_charts_render_from_the_demo(demo: Demo) -> None:
    demo.sign_in("office-li")
    page = demo.client.get("/charts")
    assert page.status_code == 200
    units = LedgerService(demo.ledger).library_state().units()
    funding = re.search(r'<svg class="chart-funding".*?</svg>', page.text, re.S)
    assert funding is not None
    assert funding.group(0).count("<rect ") == 4 * len(units)  # four bars per unit
    deadlines = re.search(r'<svg class="chart-deadlines".*?</svg>', page.text, re.S)
    assert deadlines is not None
    today = demo.ledger.today()
    office = Actor("office-li", Role.OFFICE, None)
    ahead = [o for o in LedgerService(demo.ledger).obligations(office)
             if o["status"] == "open" and o["due"] and 0 <= (
                 date.fromisoformat(str(o["due"])) - today).days <= 120]
    assert 0 < deadlines.group(0).count('class="dl-dot"') <= len(ahead)
    history = re.search(r'<svg class="chart-history".*?</svg>', page.text, re.S)
    assert history is not None
    assert history.group(0).count("<polyline") == len(units)
    assert "http" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")


# --- the log: entry lookup --------------------------------------------------------------------


def test_look_up_an_entry_by_hash_or_leaf_index_with_its_proof(demo: Demo) -> None:
    demo.sign_in("audit-sun")
    ledger = demo.ledger
    project = demo.result.projects["hanji-village"]
    leaf = ledger.log.leaf_for(project, 2)
    entry = ledger.entry_at(project, 2)
    assert leaf is not None
    assert entry is not None
    by_index = demo.client.get(f"/log/entry?q={leaf.leaf_index}").text
    by_hash = demo.client.get(f"/log/entry?q={leaf.entry_hash.hex()}").text
    for page in (by_index, by_hash):
        assert f'data-field="leaf-index">{leaf.leaf_index}<' in page
        assert leaf.entry_hash.hex() in page
        assert 'data-field="proof-verified">证明有效' in page
        assert event_label(entry.filing.type, "zh") in page  # the event in words
    checkpoint = ledger.trusted_checkpoint()
    assert checkpoint is not None
    proof = re.findall(r"<li><code>([0-9a-f]{64})</code></li>", by_index)
    merkle.verify_inclusion(ledger.identity.profile.hash, leaf.leaf_index, checkpoint.size,
                            leaf.entry_hash, [bytes.fromhex(h) for h in proof], checkpoint.root)
    assert checkpoint.note.splitlines()[0] in by_index  # the signed note
    assert "日志中没有该条目" in demo.client.get("/log/entry?q=99999999").text
    assert "请输入" in demo.client.get("/log/entry?q=not-a-hash").text


def test_entry_lookup_follows_the_readers_role(demo: Demo) -> None:
    project = demo.result.projects["hanji-village"]
    leaf = demo.ledger.log.leaf_for(project, 2)
    assert leaf is not None
    demo.sign_in("edu-wang")  # another unit's entry does not exist for it
    page = demo.client.get(f"/log/entry?q={leaf.leaf_index}").text
    assert "日志中没有该条目" in page
    assert leaf.entry_hash.hex() not in page
    demo.sign_in("admin-zhou")  # the administrator: that it exists and its proof, no content
    page = demo.client.get(f"/log/entry?q={leaf.leaf_index}").text
    assert 'data-field="proof-verified">证明有效' in page
    assert "管理员不查看项目内容" in page
    assert 'data-field="event"' not in page
    registry = demo.ledger.log.leaf(0)
    assert registry is not None
    assert "登记用户" in demo.client.get("/log/entry?q=0").text  # the registry is its own


# --- administration -------------------------------------------------------------------------


def test_admin_registers_an_actor_issues_and_revokes_tokens(demo: Demo) -> None:
    demo.sign_in("admin-zhou")
    csrf = demo.csrf("/admin/actors")
    refused = demo.client.post("/admin/actors", data={
        "csrf": csrf, "actor": "civil-zhang", "display_name": "社会事务部 张", "role": "office",
        "unit": "civil"})
    assert refused.status_code == 422  # only a unit actor has a unit, as the CLI says
    assert "civil-zhang" not in demo.ledger.registry().actors
    made = demo.client.post("/admin/actors", data={
        "csrf": csrf, "actor": "civil-zhang", "display_name": "社会事务部 张", "role": "unit",
        "unit": "civil"}, follow_redirects=False)
    assert made.status_code == 303
    record = demo.ledger.registry().actors["civil-zhang"]
    assert (record.role, record.unit) == (Role.UNIT, "civil")
    issued = demo.client.post("/admin/actors/civil-zhang/tokens",
                              data={"csrf": csrf, "action": "issue"})
    token = re.search(r'data-field="new-token">([^<]+)<', issued.text)
    assert token is not None
    assert demo.ledger.tokens.actor_for(token.group(1)) == "civil-zhang"
    assert 'data-state="live"' in issued.text
    assert "到期时间" in issued.text
    demo.client.post("/admin/actors/civil-zhang/tokens", data={"csrf": csrf, "action": "revoke"})
    assert demo.ledger.tokens.actor_for(token.group(1)) is None
    page = demo.client.get("/admin/actors/civil-zhang").text
    assert 'data-state="revoked"' in page
    assert token.group(1) not in page


def test_admin_rotates_and_revokes_keys(demo: Demo) -> None:
    demo.sign_in("admin-zhou")
    csrf = demo.csrf("/admin/actors")
    before = {k for k, v in demo.ledger.registry().keys.items() if v.actor == "edu-wang"}
    demo.client.post("/admin/actors/edu-wang/keys", data={"csrf": csrf})
    after = {k for k, v in demo.ledger.registry().keys.items() if v.actor == "edu-wang"}
    (new,) = after - before
    assert demo.ledger.registry().keys[new].revoked_from is None
    page = demo.client.get("/admin/actors/edu-wang").text
    assert new in page
    assert "填报签名" in page  # the key's purpose
    old = sorted(before)[0]
    demo.client.post("/admin/keys/revoke", data={"csrf": csrf, "key_id": old, "reason": "密钥轮换"})
    assert demo.ledger.registry().keys[old].revoked_from is not None
    again = demo.client.post("/admin/keys/revoke", data={"csrf": csrf, "key_id": old})
    assert again.status_code == 422


def test_admin_pages_are_for_the_admin_and_need_the_csrf_token(demo: Demo) -> None:
    demo.sign_in("office-li")
    assert demo.client.get("/admin/actors").status_code == 403
    demo.sign_in("admin-zhou")
    forged = demo.client.post("/admin/units", data={"csrf": "forged", "unit": "edu",
                                                    "name": "伪造"})
    assert forged.status_code == 403
    for path in ("/admin/actors", "/admin/actors/edu-wang/tokens", "/admin/actors/edu-wang/keys",
                 "/admin/keys/revoke", "/admin/units"):
        assert demo.client.post(path, data={}).status_code == 403, path
    assert "伪造" not in demo.client.get("/admin/units").text


def test_admin_names_a_unit_and_every_page_uses_the_name(demo: Demo) -> None:
    demo.sign_in("admin-zhou")
    csrf = demo.csrf("/admin/units")
    demo.client.post("/admin/units", data={"csrf": csrf, "unit": "bigdata", "name": "大数据中心"})
    assert "大数据中心" in demo.client.get("/admin/units").text
    demo.sign_in("office-li")
    library = visible_text(demo.client.get("/projects").text)
    assert "大数据中心" in library
    assert "区大数据中心" not in library


def test_unit_names_are_kept_and_renamed_on_both_backends(ledger: Ledger) -> None:
    names = UnitNames(ledger)
    assert names.name("edu") == "教育和体育部"  # the zone's known name until one is set
    assert names.name("nowhere") == "nowhere"
    assert names.name(None) == "—"
    names.set_name("edu", "  教育 和体育部 ")
    names.set_name("edu", "区教育和体育部")
    again = UnitNames(ledger)  # another process reads what is stored
    assert again.name("edu") == "区教育和体育部"
    assert again.named("edu")
    assert ledger.log.get_meta("unit.name.edu.1") == "教育 和体育部"  # history kept
    with pytest.raises(Exception, match="1 to 64"):
        names.set_name("edu", " ")


# --- offline API docs and other hosts ---------------------------------------------------------


def test_api_docs_are_served_from_this_server(demo: Demo) -> None:
    for path in ("/docs", "/redoc"):
        page = demo.client.get(path)
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets
        assert all(a.startswith("/static/vendor/") for a in assets), assets
        for asset in assets:
            assert demo.client.get(asset).status_code == 200, asset
        assert "cdn" not in page.text
        assert "fonts.googleapis" not in page.text
    assert demo.client.get("/openapi.json").status_code == 200


def test_no_page_references_another_host(demo: Demo) -> None:
    hosts = re.compile(r'(?:src|href|action|url)\s*[=(]\s*["\']?((?:https?:)?//[^"\'\s)>]+)',
                       re.I)
    village = demo.result.projects["hanji-village"]
    pages = {"office-li": ["/projects", f"/projects/{village}", "/overdue", "/charts",
                           "/replay", "/log", "/log/entry?q=5", f"/projects/{village}/report",
                           f"/projects/{village}/file"],
             "admin-zhou": ["/admin/actors", "/admin/units", "/admin/actors/edu-wang"],
             "hanji-liu": ["/apply", "/projects"]}
    for actor, paths in pages.items():
        demo.sign_in(actor)
        for path in [*paths, "/docs", "/redoc", "/signin"]:
            page = demo.client.get(path)
            found = [h for h in hosts.findall(page.text) if not h.startswith("//testserver")]
            assert found == [], (path, found)
    assert demo.client.get("/static/pages.css").status_code == 200


def test_library_stays_fast_enough_to_page_through(demo: Demo) -> None:
    """A sanity bound on the demo (the 10,000-project figure is in docs/performance.md)."""
    demo.sign_in("office-li")
    demo.client.get("/projects")
    import time  # noqa: PLC0415

    started = time.perf_counter()
    for _ in range(5):
        assert demo.client.get("/projects?q=平台&sort=approved&dir=desc").status_code == 200
    assert (time.perf_counter() - started) / 5 < 1.0



def test_the_library_follows_each_filing(demo: Demo) -> None:
    """The library kept between views moves with the ledger: a new project appears and a
    changed project's money is the new money, in the table and in the export."""
    demo.sign_in("office-li")
    ledger = demo.ledger
    before = table_ids(demo.client.get("/projects?per=all").text)
    demo.client.get("/library.csv")
    upload_example_documents(ledger)
    (opened,) = ledger.submit_many([ledger.prepare(
        "edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"] | {"title": "新增测试项目"})])
    assert not isinstance(opened, Exception)
    village = demo.result.projects["hanji-village"]
    arranged = LedgerService(ledger).library_state().projects[str(village)]
    (funded,) = ledger.submit_many([ledger.prepare(
        "finance-zhao", "FundingArranged", EXAMPLES["FundingArranged"] | {
            "kind": "construction", "amount_fen": 1_230_000}, stream=village)])
    assert not isinstance(funded, Exception), funded
    page = demo.client.get("/projects?per=all").text
    assert set(table_ids(page)) == {*before, str(opened.stream)}
    assert "新增测试项目" in page
    rows = {r[0]: r for r in csv.reader(io.StringIO(
        demo.client.get("/library.csv").content.decode("utf-8-sig")))}
    expected = arranged.arranged_construction_fen + 1_230_000
    assert rows[str(village)][7] == wan(expected).replace(",", "")
