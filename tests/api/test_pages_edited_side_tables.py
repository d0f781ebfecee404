"""The pages over tables the database's operator has edited.

Side tables (tokens, cosignatures, the calendar, documents): every page still answers, never a
500, and what cannot be read is said to be so, not judged. The log's own tables (here its newest
checkpoint): the pages raise the integrity alarm, saying what to do. ``ledger verify``'s corpus
for the log's tables is tests/ledger/evidence/test_tamper.py."""

from __future__ import annotations

import re
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


def test_an_edited_checkpoint_raises_the_integrity_alarm_on_the_pages(demo: Demo) -> None:
    """The log's own tables are another matter: a newest checkpoint that no longer reads as
    signed is an integrity failure, and the pages say so plainly, as an alarm with what to do,
    not as a passing fault to retry."""
    demo.token("office-li")
    with sqlite3.connect(demo.ledger.settings.database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE log_checkpoints SET note = 'junk'"
                     " WHERE size = (SELECT MAX(size) FROM log_checkpoints)")
    demo.sign_in("office-li")
    for page in ("/log", "/charts", f"/projects/{demo.project('edu-resources')}"):
        answer = demo.client.get(page)
        assert answer.status_code == 500, page
        assert "账本完整性告警" in answer.text, page
        assert "账本完整性校验失败" in answer.text
        assert "请立即通知系统管理员和审计分局" in answer.text
        assert "稍后重试" not in answer.text
    demo.client.get("/lang/en")
    english = demo.client.get("/log")
    assert "Ledger integrity alarm" in english.text
    assert "tell the administrator and the Audit Branch now" in english.text


def test_a_text_cell_that_is_not_utf8_is_an_integrity_alarm_not_an_outage(demo: Demo) -> None:
    """SQLite keeps any bytes in a TEXT cell, and its driver refuses to read them as it refuses
    a locked database: a log time written as bytes that are not UTF-8 is an edit beneath the
    ledger, so the pages raise the integrity alarm (not "the database is unavailable, retry")
    and the API answers the integrity problem, not 503."""
    demo.token("office-li")
    with sqlite3.connect(demo.ledger.settings.database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE log_leaves SET recorded_at = CAST(X'C328' AS TEXT)"
                     " WHERE leaf_index = (SELECT MAX(leaf_index) FROM log_leaves)")
    demo.sign_in("office-li")
    page = demo.client.get("/log")
    assert page.status_code == 500
    assert "账本完整性告警" in page.text
    assert "稍后重试" not in page.text
    assert "Retry-After" not in page.headers
    size = demo.ledger.log.tree_size()
    answer = demo.client.get(f"/log/proof/inclusion?leaf_index={size - 1}",
                             headers=demo.bearer("office-li"))
    assert answer.status_code == 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("integrity")
    assert "not UTF-8" in answer.json()["detail"]


def test_a_document_altered_in_the_database_raises_the_alarm_on_the_pages(demo: Demo) -> None:
    """A document an entry cites, its bytes swapped beneath the ledger: the page's download and
    the project's evidence bundle raise the integrity alarm instead of handing out the swap."""
    demo.token("investigator-zhou")
    project = demo.project("bigdata-cloud")
    demo.sign_in("investigator-zhou")
    page = demo.client.get(f"/projects/{project}").text
    cited = re.search(rf"/projects/{project}/documents/([0-9a-f]{{64}})", page)
    assert cited is not None
    sha = cited.group(1)
    assert demo.client.get(f"/projects/{project}/documents/{sha}").status_code == 200
    with sqlite3.connect(demo.ledger.settings.database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE documents SET data = CAST('%PDF-1.7 forged' AS BLOB)"
                     " WHERE sha256 = ?", (sha,))
    for path in (f"/projects/{project}/documents/{sha}", f"/projects/{project}/evidence.zip"):
        answer = demo.client.get(path)
        assert answer.status_code == 500, path
        assert "账本完整性告警" in answer.text, path
        assert b"forged" not in answer.content
