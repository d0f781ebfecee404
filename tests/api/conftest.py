"""API fixtures: a test client around the ledger, tokens per actor; for the web pages, the demo
ledger behind the ASGI app (``demo``) or served on loopback (``live``), and a headless Chromium
(``context``, ``page``; helpers in pagestest.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from pagestest import (
    ARGS,
    CHROMIUM,
    Demo,
    Gate,
    Live,
    browser_problem,
    copy_ledger,
    served_in_thread,
)

from api import services
from api.app import create_app
from ledger.app import Ledger
from ledger.demo import DemoResult, load_demo
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import require

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    """A client of the app over the ``ledger`` fixture (group commit on)."""
    with TestClient(create_app(ledger=ledger)) as test_client:
        yield test_client


@pytest.fixture
def auth(ledger: Ledger) -> Callable[[str], dict[str, str]]:
    """Bearer headers for an actor (tokens cached per actor)."""
    tokens: dict[str, str] = {}
    for actor, role, unit in (("admin-zhou", Role.ADMIN, None), ("audit-sun", Role.AUDIT, None),
                              ("investigator-wu", Role.INVESTIGATOR, None),
                              ("approval-he", Role.APPROVAL, None), ("cdr-qian", Role.CDR, None)):
        if actor not in ledger.registry().actors:
            ledger.register_actor(actor, role, unit, actor)

    def headers(actor: str) -> dict[str, str]:
        if actor not in tokens:
            tokens[actor] = ledger.tokens.issue(actor)
        return {"Authorization": f"Bearer {tokens[actor]}"}

    return headers


# --- the web pages -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoResult]:
    """The demo data set, loaded once per module into a template SQLite file."""
    folder = tmp_path_factory.mktemp("demo")
    result = load_demo(Settings(database_url=f"sqlite:///{folder}/ledger.db",
                                environment="test"))
    return folder / "ledger.db", result


@pytest.fixture
def demo(demo_template: tuple[Path, DemoResult], tmp_path: Path) -> Iterator[Demo]:
    """The app over a private copy of the demo ledger, with an administrator (admin-zhou)."""
    source, result = demo_template
    ledger = Ledger(Settings(database_url=copy_ledger(source, tmp_path), environment="test"))
    ledger.register_actor("admin-zhou", Role.ADMIN, None, "管理员 周")
    try:
        with TestClient(create_app(ledger=ledger), base_url="http://testserver") as client:
            yield Demo(ledger, result, {}, client)
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def need_browser() -> None:
    """Skip where no browser can be had (under CI, fail): ``pytestmark`` of the browser tests."""
    require(browser_problem(), "the browser tests")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The app over a demo ledger served on loopback by uvicorn, one per module."""
    folder = tmp_path_factory.mktemp("live")
    settings = Settings(database_url=f"sqlite:///{folder}/ledger.db", environment="test")
    demo = load_demo(settings)
    ledger = Ledger(settings)
    try:
        with served_in_thread(create_app(ledger=ledger)) as url:
            yield Live(ledger, demo, {}, url)
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def context(need_browser: None,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a new, empty profile (--user-data-dir), one per module."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1366, "height": 768}, accept_downloads=True)
        browser.set_default_timeout(15_000)
        try:
            yield browser
        finally:
            browser.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A new tab, signed out."""
    context.clear_cookies()
    tab = context.new_page()
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture
def verify_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """The pages' background ``ledger verify`` held at its first page until the test opens
    the gate (opened at the end in any case, so that no run's thread is left waiting)."""
    made = Gate()
    real = services.verify_ledger

    def held_verify(*args: Any, progress: Callable[[int, int], None], **kwargs: Any) -> Any:
        return real(*args, progress=made.hold(progress), **kwargs)

    monkeypatch.setattr(services, "verify_ledger", held_verify)
    yield made
    made.open()

