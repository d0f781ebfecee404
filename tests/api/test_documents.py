"""Documents over HTTP: who may read which (docs/api.md, Documents), how downloads are served,
and the content checks against the declared media type."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

from fastapi.testclient import TestClient

from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledgertest import run_sql

Auth = Callable[[str], dict[str, str]]


def _upload(client: TestClient, headers: dict[str, str], content: bytes,
            media_type: str) -> dict[str, object]:
    response = client.post("/api/v1/documents", content=content,
                           headers=headers | {"content-type": media_type})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


def test_a_unit_reads_what_it_uploaded_and_what_its_projects_cite(
        client: TestClient, auth: Auth) -> None:
    mine = _upload(client, auth("edu-wang"), b"%PDF-1.7 edu's draft", "application/pdf")
    sha = mine["sha256"]
    assert client.get(f"/api/v1/documents/{sha}", headers=auth("edu-wang")).status_code == 200
    other = client.get(f"/api/v1/documents/{sha}", headers=auth("health-chen"))
    assert other.status_code == 404  # another unit's document does not exist for it
    assert other.headers["content-type"] == "application/problem+json"
    unknown = client.get(f"/api/v1/documents/{'0' * 64}", headers=auth("health-chen"))
    assert unknown.status_code == 404
    assert unknown.json()["title"] == other.json()["title"]  # the two look alike
    for reader in ("office-li", "audit-sun", "investigator-wu", "finance-zhao"):
        assert client.get(f"/api/v1/documents/{sha}", headers=auth(reader)).status_code == 200
    assert client.get(f"/api/v1/documents/{sha}", headers=auth("admin-zhou")).status_code == 403

    cited = next(iter(example_documents()))  # uploaded by no unit; cited once edu applies
    assert client.get(f"/api/v1/documents/{cited}", headers=auth("edu-wang")).status_code == 404
    filed = client.post("/api/v1/projects", json={"payload": EXAMPLES["ApplicationFiled"]},
                        headers=auth("edu-wang"))
    assert filed.status_code == 201, filed.text
    assert client.get(f"/api/v1/documents/{cited}", headers=auth("edu-wang")).status_code == 200
    assert client.get(f"/api/v1/documents/{cited}",
                      headers=auth("health-chen")).status_code == 404


def test_re_uploading_does_not_reveal_the_first_upload(client: TestClient, auth: Auth) -> None:
    content = b"%PDF-1.4 a contract both units hold"
    first = _upload(client, auth("edu-wang"), content, "application/pdf")
    again = _upload(client, auth("edu-wang"), content, "application/pdf")
    assert again["added_at"] == first["added_at"]  # the unit's own first upload
    theirs = _upload(client, auth("health-chen"), content, "application/pdf")
    assert theirs["sha256"] == first["sha256"]
    assert str(theirs["added_at"]) > str(first["added_at"])  # its own time, not edu's
    assert client.get(f"/api/v1/documents/{first['sha256']}",
                      headers=auth("health-chen")).status_code == 200  # it uploaded it too


def test_downloads_are_sandboxed_attachments(client: TestClient, auth: Auth) -> None:
    sha = _upload(client, auth("edu-wang"), "纯文本说明".encode(), "text/plain")["sha256"]
    response = client.get(f"/api/v1/documents/{sha}", headers=auth("edu-wang"))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{sha}.txt"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == "纯文本说明".encode()


def test_content_must_be_what_the_media_type_says(client: TestClient, auth: Auth) -> None:
    headers = auth("edu-wang")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17 + b"IEND\xaeB`\x82"
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40
    accepted = [
        (b"%PDF-1.4 x", "application/pdf"), (png, "image/png"),
        (b"\xff\xd8\xff\xe0 jpeg", "image/jpeg"), (b"GIF89a\x01\x00", "image/gif"),
        (_zip("[Content_Types].xml", "word/document.xml"),
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (_zip("[Content_Types].xml", "xl/workbook.xml"),
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (_zip("[Content_Types].xml", "ppt/presentation.xml"),
         "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (ole, "application/msword"), (ole, "application/vnd.ms-excel"),
        (_zip("OFD.xml", "Doc_0/Document.xml"), "application/ofd"),
        (b"a < b and c > d: no markup", "text/plain"), (b'{"a": 1}', "application/json"),
    ]
    for content, media_type in accepted:
        _upload(client, headers, content, media_type)
    refused = [
        (b"<!DOCTYPE html><script>alert(1)</script>", "text/plain"),
        (b"hello <a href='x'>click</a>", "text/plain"),
        (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "image/png"),
        (png[:33] + b"<script>alert(1)</script>", "image/png"),
        (b"<svg onload=alert(1)>", "image/gif"),
        (_zip("[Content_Types].xml", "xl/workbook.xml"),
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (_zip("Doc_0/Document.xml"), "application/ofd"),
        (b"PK\x03\x04 not really a zip", "application/zip"),
        (b"%PDF-1.4", "text/html"), (b"\xff\xfe not utf-8", "text/plain"),
        (b"", "application/pdf"),
    ]
    for content, media_type in refused:
        response = client.post("/api/v1/documents", content=content,
                               headers=headers | {"content-type": media_type})
        assert response.status_code == 422, (media_type, content[:20])
        assert response.json()["title"] == "The document is invalid"


def test_duplicate_json_keys_are_refused_everywhere(client: TestClient, auth: Auth,
                                                   ledger: Ledger) -> None:
    size = ledger.log.tree_size()
    body = ('{"payload": {"title": "a"}, "payload": ' + _json(EXAMPLES["ApplicationFiled"])
            + "}").encode()
    response = client.post("/api/v1/projects", content=body,
                           headers=auth("edu-wang") | {"content-type": "application/json"})
    assert response.status_code == 422
    assert "payload" in response.json()["detail"]
    nested = ('{"payload": ' + _json(EXAMPLES["ApplicationFiled"])[:-1]
              + ', "title": "again"}}').encode()
    response = client.post("/api/v1/projects", content=nested,
                           headers=auth("edu-wang") | {"content-type": "application/json"})
    assert response.status_code == 422
    assert ledger.log.tree_size() == size
    response = client.post(
        "/api/v1/actors", content=b'{"actor": "a1", "actor": "a2", "role": "office",'
                                  b' "display_name": "x"}',
        headers=auth("admin-zhou") | {"content-type": "application/json"})
    assert response.status_code == 422
    assert "actor" in response.json()["errors"][0]["message"]


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _edit_document(ledger: Ledger, sha: str, column: str, value: str) -> None:
    """One cell of the stored document, edited beneath the ledger."""
    quoted = value.replace("'", "''")
    if column == "data":
        cell = (f"CAST('{quoted}' AS BLOB)" if ledger.settings.database_url.startswith("sqlite")
                else f"convert_to('{quoted}', 'UTF8')")
    else:
        cell = f"'{quoted}'"
    run_sql(ledger.settings.database_url,
            f"UPDATE {{documents}} SET {column} = {cell} WHERE sha256 = '{sha}'")


def test_a_document_altered_in_the_database_is_never_served(
        client: TestClient, auth: Auth, ledger: Ledger) -> None:
    """A filing cites a document by its hash alone: bytes swapped beneath the ledger (a forged
    contract under the real one's name) are refused as an integrity failure wherever they would
    be read, never served, exported or taken for the original."""
    original = b"%PDF-1.7 the contract as signed"
    sha = str(_upload(client, auth("edu-wang"), original, "application/pdf")["sha256"])
    _edit_document(ledger, sha, "data", "%PDF-1.7 a forged contract")
    answer = client.get(f"/api/v1/documents/{sha}", headers=auth("edu-wang"))
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("integrity")
    assert "does not hash to its name" in answer.json()["detail"]
    assert b"forged" not in answer.content
    again = client.post("/api/v1/documents", content=original,
                        headers=auth("edu-wang") | {"content-type": "application/pdf"})
    assert again.status_code == 500  # the stored copy is not the one uploaded: said, not hidden
    assert again.json()["type"].endswith("integrity")


def test_a_media_type_altered_in_the_database_is_never_served(
        client: TestClient, auth: Auth, ledger: Ledger) -> None:
    """The bytes intact but the stored media type edited to one a browser renders: refused,
    not served as HTML from the ledger's origin."""
    sha = str(_upload(client, auth("edu-wang"), "纯文本说明：a < b".encode(),
                      "text/plain")["sha256"])
    for media_type in ("text/html", "application/pdf"):
        _edit_document(ledger, sha, "media_type", media_type)
        answer = client.get(f"/api/v1/documents/{sha}", headers=auth("edu-wang"))
        assert answer.status_code == 500, media_type
        assert answer.json()["type"].endswith("integrity")
        assert "which its content is not" in answer.json()["detail"]
