"""The pages over side tables the database's operator has edited (tokens, cosignatures, the
calendar, documents): every page still answers, never a 500, and what cannot be read is said to
be so, not judged. The ledger's own tables have their corpus in tests/ledger/evidence."""

from __future__ import annotations

import sqlite3

import pytest
from pagestest import Demo

_PAGES = (("admin-zhou", ("/log", "/admin/actors", "/admin/actors/edu-wang", "/admin/units")),
          ("office-li", ("/projects", "/overdue", "/log", "/charts")))


@pytest.mark.parametrize("statement", [
    "UPDATE api_tokens SET created_at = 'garbage'",
    "INSERT INTO api_token_expiry (token_hash, expires_at)"
    " SELECT token_hash, 'nonsense' FROM api_tokens",
    "UPDATE log_cosignatures SET line = 'junk'",
    "UPDATE calendar_years SET data = '{not json'",
    "UPDATE documents SET media_type = 'x/y', added_at = 'zz'",
    "UPDATE document_owners SET added_at = 'zz'",
])
def test_every_page_answers_over_an_edited_side_table(demo: Demo, statement: str) -> None:
    for actor in ("admin-zhou", "edu-wang", "office-li"):
        demo.token(actor)  # tokens issued before the edit
    with sqlite3.connect(demo.ledger.settings.database_url.removeprefix("sqlite:///")) as conn:
        conn.execute(statement)
    failed = []
    for actor, pages in _PAGES:
        demo.sign_in(actor)
        failed += [(actor, page, answer.status_code) for page in pages
                   if (answer := demo.client.get(page)).status_code >= 500]
    assert not failed, failed


def test_a_token_whose_issue_time_was_edited_is_listed_as_damaged(demo: Demo) -> None:
    demo.token("edu-wang")
    demo.sign_in("admin-zhou")
    with sqlite3.connect(demo.ledger.settings.database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE api_tokens SET created_at = 'garbage'"
                     " WHERE actor = 'edu-wang'")
    page = demo.client.get("/admin/actors/edu-wang")
    assert page.status_code == 200
    assert 'data-state="unreadable"' in page.text
    assert "记录异常" in page.text
    assert [t.state for t in demo.ledger.tokens.tokens_of("edu-wang")] == ["unreadable"]
