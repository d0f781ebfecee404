"""The pages during a database outage: a page, not problem+json, made without asking the
database anything, that reloads itself when the retry is due (the API's answer is in
test_outages.py, against a real PostgreSQL stopped and started under load)."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest
from pagestest import Demo

from ledger.errors import DatabaseUnavailableError


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("database is locked"),
    psycopg.OperationalError("connection refused"),
    DatabaseUnavailableError("the writer's connection failed"),  # reported by the writer
], ids=["sqlite", "psycopg", "writer"])
def test_an_outage_is_a_page_that_comes_back_by_itself(
        demo: Demo, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    demo.sign_in("office-li")
    project = demo.project("edu-resources")

    def down(*args: Any, **kwargs: Any) -> Any:
        raise error

    # Every page asks the database whether its session is live: that read fails.
    monkeypatch.setattr(demo.ledger.tokens, "actor_for_session", down)
    for page in ("/projects", f"/projects/{project}", "/log"):
        answer = demo.client.get(page)
        assert answer.status_code == 503, page
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["retry-after"] == "2"
        assert "数据库暂时无法访问" in answer.text
        assert '<meta http-equiv="refresh" content="2">' in answer.text
        assert "核对是否已经记录" in answer.text  # what to do about a form just sent
    demo.client.cookies.set("ledger_lang", "en")
    english = demo.client.get("/projects")
    assert "The database is unavailable for the moment" in english.text
    monkeypatch.undo()
    assert demo.client.get("/projects").status_code == 200  # and back once it answers
