"""The web pages in a real browser: Debian's Chromium, headless, driven by Playwright (Python).

The app serves a copy of the demo ledger with uvicorn on a free loopback port. Where no
browser can be had (no ``playwright`` package, or no ``/usr/bin/chromium``), these tests skip
and say why; under CI (``CI=true``) they fail instead. ``scripts/test`` installs both on CI
(``apt-get install -y chromium``); Playwright's own browser download is never used.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pagestest import Gate, Live, sign_in

from ledger.evidence.bundle import verify_bundle
from ledger.log.entries import b64encode
from ledger.measures.roles import Role
from projections.replay import replay_project

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.usefixtures("need_browser")


def test_office_filters_opens_switches_language_replays_and_downloads(
        page: Page, live: Live) -> None:
    sign_in(page, live, "office-li")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("table.library tbody tr").count() == len(live.result.projects)
    # filter the library
    page.get_by_label("建设单位", exact=True).select_option("edu")
    page.get_by_label("资金拨付条件", exact=True).select_option("construction")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/projects?*unit=edu&*elig=construction*")
    rows = page.locator("table.library tbody tr")
    assert 0 < rows.count() < 3
    assert all(cell == "教育和体育部"  # the unit by its name
               for cell in rows.locator("td:nth-child(2)").all_inner_texts())
    # open a project
    page.get_by_label("阶段", exact=True).select_option("")
    page.get_by_label("资金拨付条件", exact=True).select_option("")
    page.get_by_role("button", name="筛选").click()
    project = live.project("campus")
    title = page.locator(f'a[href="/projects/{project}"]')
    name = title.inner_text()
    title.click()
    page.wait_for_url(f"{live.url}/projects/{project}")
    assert page.get_by_role("heading", level=1).inner_text() == name
    timeline = page.locator("svg.timeline")
    assert timeline.locator("g.tl-row").count() == live.ledger.project(project).version
    assert timeline.locator("text.tl-mark.ok").count() == timeline.locator("g.tl-row").count()
    # printable: navigation and forms are hidden in print
    page.emulate_media(media="print")
    assert not page.locator("nav.nav").is_visible()
    assert page.locator("svg.timeline").is_visible()
    page.emulate_media(media="screen")
    # switch language
    page.get_by_role("link", name="切换语言: English").click()
    page.wait_for_url(f"{live.url}/projects/{project}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Funding eligibility").is_visible()
    # run a replay
    page.get_by_label("As known at (China Standard Time)", exact=True).fill("2024-06-30T18:00:00")
    page.get_by_label("Evaluated on", exact=True).fill("2024-06-30")
    page.get_by_role("button", name="Replay").click()
    page.wait_for_url("**as_known_at=*")
    assert page.locator(".alert.replay").is_visible()
    replay = replay_project(live.ledger, project, as_known_at="2024-06-30T10:00:00.000000Z",
                            on=date(2024, 6, 30))
    for view, value in replay.views.items():
        assert page.locator(f'code[data-hash="{view}"]').inner_text() == value["state_hash"]
    assert page.locator("g.tl-row").count() == replay.entries
    # download the evidence bundle (of that replay)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download evidence bundle").click()
    data = Path(info.value.path()).read_bytes()
    identity = live.ledger.identity
    verify_bundle(data, log_key=identity.log_key.encode(),
                  root_key=b64encode(identity.root_public_key))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        bundle: dict[str, Any] = json.loads(archive.read("bundle.json"))
    assert len(bundle["entries"]) == replay.entries
    page.goto(f"{live.url}/lang/zh?next=/projects")


def test_unit_files_a_progress_report_and_sees_it_on_the_timeline(
        page: Page, live: Live) -> None:
    project = live.project("edu-resources")
    sign_in(page, live, "edu-wang", f"/projects/{project}")
    from playwright.sync_api import expect  # noqa: PLC0415

    seq = live.ledger.project(project).version + 1
    page.get_by_role("link", name="填报事项").click()
    page.get_by_label("选择事项类型").select_option("ProgressReported")  # JS goes to the form
    page.wait_for_url("**/file?type=ProgressReported")
    payload = json.loads(page.get_by_label("内容（JSON）", exact=False).input_value())
    payload["summary"] = "浏览器填报：平台升级完成约八成"
    # the JSON stays behind the experts' toggle; opened, it shows what the form holds
    page.get_by_text("专家：查看或编辑 JSON").click()
    expect(page.locator("#payload")).to_have_attribute("data-filled", "1")
    page.get_by_label("按此 JSON 提交").check()
    page.get_by_label("内容（JSON）", exact=False).fill(json.dumps(payload, ensure_ascii=False))
    page.get_by_role("button", name="提交并签名").click()
    page.wait_for_url(f"**/projects/{project}?filed={seq}*")
    assert "已记录" in page.get_by_role("status").first.inner_text()
    row = page.locator(f"svg.timeline g#tl-{seq}")
    assert "建设进度和预算执行情况报告" in (row.text_content() or "")
    assert row.locator("text.tl-mark.ok").count() == 1
    entry = live.ledger.entry_at(project, seq)
    assert entry is not None
    assert entry.filing.payload["summary"] == payload["summary"]
    # a unit cannot open another unit's project
    other = live.project("health-platform")
    response = page.goto(f"{live.url}/projects/{other}")
    assert response is not None
    assert response.status == 404
    assert "未找到该项目" in page.locator("main").inner_text()


def test_keyboard_reaches_the_controls_and_every_control_is_labelled(
        page: Page, live: Live) -> None:
    page.goto(f"{live.url}/signin")
    assert page.evaluate("document.activeElement.id") == "token"  # autofocus
    page.get_by_label("访问令牌").fill(live.token("office-li"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "登录"
    page.keyboard.press("Enter")  # signs in from the keyboard
    page.wait_for_url(f"{live.url}/projects")
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.id || e.getAttribute('href') || e.textContent.trim(); }"))
    assert reached[0] == "#main"  # the skip link comes first
    assert reached[1:5] == ["/", "/projects", "/overdue", "/replay"]
    page.goto(f"{live.url}/projects")
    for _ in range(4):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # follow a link from the keyboard
    page.wait_for_url(f"{live.url}/overdue")
    unlabelled = """() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(e => e.type !== 'hidden')
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                     && !(e.tagName === 'BUTTON' && e.textContent.trim()))
        .map(e => e.outerHTML)"""
    for path in ("/projects", f"/projects/{live.project('campus')}", "/overdue", "/replay",
                 "/log"):
        page.goto(live.url + path)
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.evaluate(unlabelled) == [], path
    page.goto(f"{live.url}/projects")
    page.locator("#f-unit").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-stage"


# --- Chinese throughout, phones, exports, charts, offline docs ---------------------------------

_LATIN = r"""(text) => {
    const allowed = new Set(["English", "CSV", "Excel"]);
    const code = /^[0-9a-f]{8,}$|^[A-Za-z]{1,4}-[\w-]+$|^[\w.+\/=:-]*\d[\w.+\/=:-]*$/;
    // As the server-side check: a word glued to Chinese text is part of what a person typed.
    return [...new Set((text.match(/(?<![.\p{L}\p{N}_])[A-Za-z][A-Za-z0-9_.:+\/=-]*/gu) || [])
        .filter(w => !allowed.has(w) && !code.test(w)))];
}"""
_VISIBLE = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll('code, pre, details:not([open]) > :not(summary), script, style')
        .forEach(e => e.remove());
    document.body.appendChild(body); body.style.position = 'absolute';
    const text = body.innerText; body.remove(); return text;
}"""


def _sign_in_as(page: Page, live: Live, actor: str) -> None:
    if actor not in live.ledger.registry().actors:
        live.ledger.register_actor(actor, Role.ADMIN, None, "管理员 周")
    page.goto(f"{live.url}/signin")
    page.get_by_label("访问令牌").fill(live.token(actor))
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def _pages_of(live: Live, actor: str) -> list[str]:
    village = live.project("hanji-village")
    if actor == "admin-zhou":
        return ["/log", "/log/entry?q=3", "/admin/actors", "/admin/units",
                "/admin/actors/edu-wang"]
    own = live.project("edu-resources") if actor == "edu-wang" else village
    return ["/projects", f"/projects/{own}", "/overdue", "/charts", "/replay", "/log",
            "/log/entry?q=40", f"/projects/{own}/report"]


@pytest.mark.parametrize("actor", ["office-li", "edu-wang", "admin-zhou"])
def test_no_english_sentence_on_a_chinese_page_in_the_browser(
        page: Page, live: Live, actor: str) -> None:
    """The visible text of every page a role uses has no Latin word but codes and names."""
    _sign_in_as(page, live, actor)
    names = {w for r in live.ledger.registry().actors.values() for w in r.display_name.split()}
    for path in _pages_of(live, actor):
        page.goto(live.url + path)
        assert page.locator("html").get_attribute("lang") == "zh-CN", path
        text = page.evaluate(_VISIBLE)
        words = set(page.evaluate(_LATIN, text)) - names
        assert words == set(), (path, [text[max(0, text.find(w) - 60):text.find(w) + 30]
                                       for w in words])


@pytest.mark.parametrize("actor", ["office-li", "edu-wang", "admin-zhou"])
def test_every_page_is_usable_on_a_390_px_phone(page: Page, live: Live, actor: str) -> None:
    """No sideways scrolling at 390 px, and the library's rows are readable cards."""
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in_as(page, live, actor)
    for path in [*_pages_of(live, actor), "/projects?per=all"]:
        if actor == "admin-zhou" and path.startswith("/projects"):
            continue
        page.goto(live.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    if actor != "admin-zhou":
        page.goto(f"{live.url}/projects")
        card = page.locator("table.library tbody tr").first.bounding_box()
        assert card is not None
        assert card["width"] <= 390
        assert page.locator("table.library thead").bounding_box() is None or (
            page.locator("table.library thead").bounding_box()["height"] <= 1)  # type: ignore[index]


def test_exports_download_exactly_the_filtered_table(page: Page, live: Live) -> None:
    from openpyxl import load_workbook  # noqa: PLC0415

    _sign_in_as(page, live, "office-li")
    page.goto(f"{live.url}/projects")
    page.get_by_label("搜索", exact=True).fill("平台")
    page.get_by_label("资金拨付条件", exact=True).select_option("construction")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/projects?q=*")
    page.locator("th a.sort", has_text="批复金额").click()
    page.wait_for_url("**sort=approved*")
    shown = page.locator("table.library td.title-cell a").evaluate_all(
        "links => links.map(a => a.getAttribute('href').split('/').pop())")
    assert 0 < len(shown) < len(live.result.projects)
    with page.expect_download() as info:
        page.locator("a[data-export=csv]").click()
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_bytes().decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == shown
    with page.expect_download() as info:
        page.locator("a[data-export=xlsx]").click()
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    assert sheet is not None
    assert [r[0].value for r in sheet.iter_rows(min_row=2)] == shown


def test_charts_render_with_the_demo_data(page: Page, live: Live) -> None:
    _sign_in_as(page, live, "office-li")
    page.goto(f"{live.url}/charts")
    for name in ("funding", "deadlines", "history"):
        chart = page.locator(f"[data-chart={name}] svg")
        assert chart.is_visible(), name
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 40
    bars = page.locator("svg.chart-funding rect")
    assert bars.count() >= 4
    widest = max(b["width"] for b in (bars.nth(i).bounding_box() for i in range(bars.count()))
                 if b is not None)
    assert widest > 100  # bars drawn to scale, not collapsed
    assert page.locator("svg.chart-history polyline").count() >= 1


def test_verify_now_shows_the_run_and_then_its_result(page: Page, live: Live,
                                                      verify_gate: Gate) -> None:
    """立即校验: the page comes back at once with the run's progress, and refreshes itself
    until the result is shown, with nothing clicked or reloaded by the test."""
    _sign_in_as(page, live, "audit-sun")
    page.goto(f"{live.url}/log")
    page.get_by_role("button", name="立即校验").click()
    page.locator("[data-field=verify-running]").wait_for()  # reading, or counting already
    assert page.get_by_role("button", name="立即校验").count() == 0
    assert verify_gate.reached.wait(30)
    page.locator("[data-field=verify-running]", has_text="已检查").wait_for(timeout=10_000)
    verify_gate.open()
    page.locator("[data-field=verify]", has_text="通过").wait_for(timeout=10_000)
    assert page.locator("[data-field=verify-running]").count() == 0
    assert "audit-sun" in page.locator("#v-h + p + dl").inner_text()


def test_api_docs_work_offline(page: Page, live: Live) -> None:
    """Swagger UI and ReDoc render with every request to this server: no CDN, no fonts."""
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url)
            if not r.url.startswith(live.url) and not r.url.startswith(("data:", "blob:"))
            else None)
    page.goto(f"{live.url}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "审计账本" in page.locator(".swagger-ui .info .title").inner_text()
    page.goto(f"{live.url}/redoc")
    page.locator("h1", has_text="审计账本").first.wait_for()
    assert elsewhere == []


def test_no_page_asks_another_host(page: Page, live: Live) -> None:
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url)
            if not r.url.startswith(live.url) and not r.url.startswith(("data:", "blob:"))
            else None)
    _sign_in_as(page, live, "office-li")
    for path in _pages_of(live, "office-li"):
        page.goto(live.url + path)
    assert elsewhere == []
