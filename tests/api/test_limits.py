"""Request-size limits (refused while read, before parsing, on every route) and the upload
rate per token: docs/api.md, Limits.

The body limit is checked without measuring memory: the app is driven as ASGI with a
``receive`` that counts what the server pulls, so "never holds more than the limit" is asserted
on the bytes it asked for, whatever the allocator does.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pagestest import csrf_of, sign_in_client

from api.app import create_app
from api.limits import RateLimiter
from ledger.app import Ledger
from ledger.errors import RateLimitedError
from ledger.settings import Settings
from ledger.store import migrations
from ledgertest import run_sql

Auth = Callable[[str], dict[str, str]]
_CHUNK = 64 * 1024
_LIMIT = 256 * 1024
_DOCUMENT_LIMIT = 1024 * 1024


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Small limits, so that the tests send little."""
    return Settings(database_url=database_url, environment="test",
                    max_request_bytes=_LIMIT, max_document_bytes=_DOCUMENT_LIMIT,
                    uploads_per_minute=3)


def _drive(app: FastAPI, method: str, path: str, headers: dict[str, str],
           chunks: int) -> tuple[int, dict[str, str], bytes, int]:
    """One request through the app as ASGI: ``chunks`` body chunks of 64 KiB offered, no
    ``Content-Length`` unless given (so chunked). Returns the status, headers, body and how
    many body bytes the server pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []
    offered = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled, offered
        if offered >= chunks:
            await asyncio.sleep(3600)  # the client went quiet: never reached if refused
        offered += 1
        pulled += _CHUNK
        return {"type": "http.request", "body": b"{" + b" " * (_CHUNK - 1),
                "more_body": offered < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body,
            pulled)


def test_a_content_length_over_the_limit_is_refused_before_a_byte_is_read(
        ledger: Ledger, auth: Auth) -> None:
    app = create_app(ledger=ledger)
    for method, path in (("POST", "/signin"), ("POST", "/api/v1/projects"),
                         ("POST", "/api/v1/actors"), ("POST", "/log/checkpoint/cosign"),
                         ("GET", "/api/v1/me"), ("POST", "/api/v1/documents")):
        status, headers, body, pulled = _drive(app, method, path, {
            "content-length": str(300 * 1024 * 1024), "content-type": "application/json"},
            chunks=4800)
        assert (status, pulled) == (413, 0), path
        assert headers["content-type"] == "application/problem+json"
        assert b"request-too-large" in body


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(ledger: Ledger,
                                                            auth: Auth) -> None:
    app = create_app(ledger=ledger)
    for method, path, headers in (
            ("POST", "/signin", {"content-type": "application/x-www-form-urlencoded"}),
            ("POST", "/api/v1/projects", auth("edu-wang") | {
                "content-type": "application/json"}),
            ("POST", "/api/v1/actors", auth("admin-zhou") | {
                "content-type": "application/json"})):
        status, answered, _, pulled = _drive(app, method, path, headers, chunks=4800)
        assert status == 413, (path, status)
        assert answered["content-type"] == "application/problem+json"
        assert pulled <= _LIMIT + _CHUNK, (path, pulled)  # never more than one chunk beyond


def test_documents_have_their_own_larger_limit(ledger: Ledger, auth: Auth) -> None:
    app = create_app(ledger=ledger)
    headers = auth("edu-wang") | {"content-type": "application/pdf"}
    status, _, body, pulled = _drive(app, "POST", "/api/v1/documents", headers,
                                     chunks=_DOCUMENT_LIMIT // _CHUNK + 8)
    assert status == 413
    assert pulled <= _DOCUMENT_LIMIT + _CHUNK
    # Under the document limit but over the request limit: read whole, then judged as a file.
    status, _, body, pulled = _drive(app, "POST", "/api/v1/documents", headers,
                                     chunks=_LIMIT // _CHUNK + 2)
    assert status == 422, body  # "{   …" is no PDF: the size was no reason to refuse it
    assert pulled == (_LIMIT // _CHUNK + 2) * _CHUNK


def test_under_the_limit_requests_are_served(client: TestClient, auth: Auth) -> None:
    assert client.get("/api/v1/me", headers=auth("edu-wang")).status_code == 200
    big_but_fine = {"actor": "x" * 100, "role": "unit", "display_name": "y" * (_LIMIT // 2)}
    response = client.post("/api/v1/actors", json=big_but_fine, headers=auth("admin-zhou"))
    assert response.status_code == 422  # judged on its content (actor id too long), not size
    too_big = {"actor": "x", "role": "unit", "display_name": "y" * (_LIMIT + 1)}
    response = client.post("/api/v1/actors", json=too_big, headers=auth("admin-zhou"))
    assert response.status_code == 413
    assert response.json()["limit"] == _LIMIT


def test_uploads_are_rate_limited_per_token(client: TestClient, auth: Auth,
                                            ledger: Ledger) -> None:
    headers = auth("edu-wang") | {"content-type": "application/pdf"}
    for n in range(3):
        assert client.post("/api/v1/documents", content=b"%PDF-1.4 n" + bytes([48 + n]),
                           headers=headers).status_code == 201
    refused = client.post("/api/v1/documents", content=b"%PDF-1.4 more", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    other = {"Authorization": f"Bearer {ledger.tokens.issue('edu-wang')}",
             "content-type": "application/pdf"}  # another token of the same actor: its own
    assert client.post("/api/v1/documents", content=b"%PDF-1.4 other",
                       headers=other).status_code == 201


def test_another_spelling_of_the_header_is_the_same_token(client: TestClient,
                                                          ledger: Ledger) -> None:
    """The scheme's case is not the token: ``bearer``, ``BEARER`` and ``Bearer`` all
    authenticate, and all spend the one token's allowance."""
    token = ledger.tokens.issue("edu-wang")
    statuses = []
    for n, scheme in enumerate(("Bearer", "bearer", "BEARER", "BeArEr", "bEARER", "beaRer")):
        answer = client.post("/api/v1/documents", content=b"%PDF-1.4 spelled" + bytes([48 + n]),
                             headers={"Authorization": f"{scheme} {token}",
                                      "content-type": "application/pdf"})
        statuses.append(answer.status_code)
    assert statuses == [201, 201, 201, 429, 429, 429]


def test_page_uploads_are_rate_limited_per_actor_across_sessions(ledger: Ledger,
                                                                auth: Auth) -> None:
    """The forms' upload spends from the same limit, per actor: signing in again (a second
    session) gives no new allowance."""
    app = create_app(ledger=ledger)
    with TestClient(app) as first, TestClient(app) as second:
        csrfs = []
        for client in (first, second):
            sign_in_client(client, ledger.tokens.issue("edu-wang"))
            csrfs.append(csrf_of(client.get("/apply").text))
        for n in range(3):
            client, csrf = (first, csrfs[0]) if n % 2 == 0 else (second, csrfs[1])
            assert client.post("/documents", content=b"%PDF-1.4 page " + bytes([48 + n]),
                               headers={"Content-Type": "application/pdf",
                                        "X-CSRF-Token": csrf}).status_code == 200
        refused = second.post("/documents", content=b"%PDF-1.4 page more", headers={
            "Content-Type": "application/pdf", "X-CSRF-Token": csrfs[1]})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["errors"][0]["field"] == "file"
        assert ledger.log.get_document(hashlib.sha256(b"%PDF-1.4 page more").hexdigest()) \
            is None  # refused before it was stored
    headers = auth("edu-wang") | {"content-type": "application/pdf"}  # a token: its own
    with TestClient(app) as client:
        assert client.post("/api/v1/documents", content=b"%PDF-1.4 api",
                           headers=headers).status_code == 201


def test_the_rate_refills_over_time(ledger: Ledger) -> None:
    now = [1_800_000_000.0]
    limiter = RateLimiter(ledger.log, 6, "uploads", clock=lambda: now[0])
    for _ in range(6):
        limiter.take("t")
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("t")
    assert refused.value.retry_after == 10  # one upload a 10 s at 6 a minute
    now[0] += 9.5
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("t")
    assert refused.value.retry_after == 1  # half a second, rounded up
    now[0] += 0.5
    limiter.take("t")
    with pytest.raises(RateLimitedError):
        limiter.take("t")
    limiter.take("u")  # another token is untouched
    now[0] += 3600  # an hour idle refills the whole minute's allowance, and no more
    for _ in range(6):
        limiter.take("t")
    with pytest.raises(RateLimitedError):
        limiter.take("t")


def test_every_process_spends_from_one_allowance(
        settings: Settings, make_ledger: Callable[..., Ledger], ledger: Ledger) -> None:
    """Two servers on one database (two ledger objects, apps and connection pools: nothing
    shared but the database) give a token three uploads a minute between them, not three
    each; and a refused upload is refused by either."""
    token = ledger.tokens.issue("edu-wang")
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/pdf"}
    other = make_ledger()
    with TestClient(create_app(ledger=ledger)) as first, \
            TestClient(create_app(ledger=other)) as second:
        for n in range(3):
            server = (first, second)[n % 2]
            assert server.post("/api/v1/documents", content=b"%PDF-1.4 shared" + bytes([48 + n]),
                               headers=headers).status_code == 201
        for server in (first, second):
            refused = server.post("/api/v1/documents", content=b"%PDF-1.4 fourth",
                                  headers=headers)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) >= 1
    assert ledger.log.get_document(hashlib.sha256(b"%PDF-1.4 fourth").hexdigest()) is None


def test_concurrent_uploads_never_spend_one_allowance_twice(
        make_ledger: Callable[..., Ledger], ledger: Ledger) -> None:
    """Threads of two "processes" (two ledger objects on one database) racing for a token's
    allowance of 10: exactly 10 succeed, whatever the interleaving."""
    others = [ledger, make_ledger()]
    now = time.time()
    limiters = [RateLimiter(log.log, 10, "uploads", clock=lambda: now) for log in others]
    outcomes: list[bool] = []

    def take(n: int) -> bool:
        try:
            limiters[n % 2].take("raced")
        except RateLimitedError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(take, range(40)))
    assert outcomes.count(True) == 10


def test_allowances_are_stored_hashed(ledger: Ledger, settings: Settings) -> None:
    token = "Bearer not-a-real-token-but-secret"
    RateLimiter(ledger.log, 3, "uploads").take(token)
    rows = run_sql(settings.database_url, "SELECT bucket FROM {upload_allowances}")
    assert [r[0] for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]


def test_an_older_database_gets_the_allowance_table(ledger: Ledger, settings: Settings) -> None:
    run_sql(settings.database_url, "DROP TABLE {upload_allowances}")  # as made before it
    assert migrations.schema_version(ledger.log) == migrations.SCHEMA_VERSION  # as recorded
    run_sql(settings.database_url, f"DELETE FROM {{ledger_meta}} WHERE key ="
                   f" 'schema_migration_{migrations.SCHEMA_VERSION}'")
    with pytest.raises(migrations.SchemaOutdatedError):
        migrations.require_current(ledger.log)  # `ledger serve` refuses it, naming migrate
    assert [m.number for m in migrations.migrate(ledger.log)] == [migrations.SCHEMA_VERSION]
    RateLimiter(ledger.log, 3, "uploads").take("t")
