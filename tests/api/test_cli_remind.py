"""``ledger remind``, ``ledger channels`` and ``ledger feeds`` from the command line, and the
reminder loop of ``ledger serve``."""

from __future__ import annotations

import json
import threading
import time

import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import cli_remind
from api.reminding import ReminderLoop, attach
from ledger.app import Ledger


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _group() -> None:
        """Test app."""

    cli_remind.register(app)
    return app


def test_channels_and_feeds_from_the_command_line(ledger: Ledger, client: TestClient) -> None:
    env = {"LEDGER_DATABASE_URL": ledger.settings.database_url, "LEDGER_ENVIRONMENT": "test",
           "LEDGER_PUBLIC_URL": "https://ledger.gaoxin.example"}
    runner = CliRunner()
    added = runner.invoke(_cli(), ["channels", "add", "edu", "dingtalk",
                                   "https://oapi.example/robot/send?access_token=secret-token",
                                   "--secret", "SECabc"], env=env)
    assert added.exit_code == 0, added.output
    bad = runner.invoke(_cli(), ["channels", "add", "edu", "fax", "123"], env=env)
    assert bad.exit_code == 2
    listed = json.loads(runner.invoke(_cli(), ["channels", "list", "--json"], env=env).output)
    assert [(c["unit"], c["kind"], c["signed"]) for c in listed] == [("edu", "dingtalk", True)]
    assert "secret-token" not in json.dumps(listed)

    issued = json.loads(runner.invoke(_cli(), ["feeds", "issue", "edu", "--json"],
                                      env=env).output)
    assert issued["url"].startswith("https://ledger.gaoxin.example/units/edu/obligations.ics?")
    path = issued["url"].removeprefix("https://ledger.gaoxin.example")
    assert client.get(path).status_code == 200
    assert runner.invoke(_cli(), ["feeds", "revoke", issued["feed"]], env=env).exit_code == 0
    assert client.get(path).status_code == 404
    assert runner.invoke(_cli(), ["feeds", "revoke", issued["feed"]], env=env).exit_code == 1

    reminded = runner.invoke(_cli(), ["remind", "--dry-run", "--json"], env=env)
    assert reminded.exit_code == 0, reminded.output
    assert json.loads(reminded.output)["failed"] == 0


def test_the_serve_loop_runs_rounds_and_survives_a_failed_one() -> None:
    calls: list[float] = []
    done = threading.Event()

    def run() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("the SMTP server is down")
        if len(calls) >= 3:
            done.set()

    loop = ReminderLoop(run, 0.01).start()
    assert done.wait(5)
    loop.stop()
    assert loop.rounds >= 3


def test_the_loop_runs_only_in_a_server_that_asks_for_it(ledger: Ledger) -> None:
    asked = ledger.settings.model_copy(update={"remind_every": 3600})
    ledger.settings = asked
    before = threading.active_count()
    attach(ledger, serving=False)()  # a test or an embedding app: nothing starts
    assert threading.active_count() == before
    stop = attach(ledger, serving=True)
    assert "reminders" in {t.name for t in threading.enumerate()}
    stop()
    assert "reminders" not in {t.name for t in threading.enumerate()}
