"""The import page (/import): office only, the template download, a dry run that writes nothing,
then the import, each upload with its CSRF token; on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from pagestest import csrf_of, sign_in_client

from ledger.app import Ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger" / "service"))
from importbook import library


def test_the_office_imports_from_the_page(ledger: Ledger, client: TestClient,
                                          auth: Callable[[str], dict[str, str]],
                                          tmp_path: Path) -> None:
    del auth  # registers the other roles' actors
    sign_in_client(client, ledger.tokens.issue("edu-wang"))
    assert client.get("/import").status_code == 403  # a unit does not import the library

    sign_in_client(client, ledger.tokens.issue("office-li"))
    page = client.get("/import")
    assert page.status_code == 200
    assert "项目库导入" in page.text
    template = client.get("/import/template.xlsx")
    assert template.status_code == 200
    assert template.content.startswith(b"PK")
    assert "%E9%A1%B9%E7%9B%AE%E5%BA%93" in template.headers["content-disposition"]

    book = library(55, ("edu", "health"), spoil=True)  # 0–49 spoilt, 50–54 clean
    data = book.write_xlsx(tmp_path / "项目库.xlsx").read_bytes()
    size = ledger.log.tree_size()
    files = {"file": ("项目库.xlsx", data, "application/octet-stream")}
    refused = client.post("/import", data={"csrf": "x" * 43, "dry_run": "1"}, files=files)
    assert refused.status_code == 403

    dry = client.post("/import", data={"csrf": csrf_of(page.text), "dry_run": "1"}, files=files)
    assert dry.status_code == 200, dry.text
    assert "试运行：未写入任何内容" in dry.text
    assert "不予登记" in dry.text
    assert "import_bad_date" in dry.text
    assert ledger.log.tree_size() == size

    done = client.post("/import", data={"csrf": csrf_of(dry.text)}, files=files)
    assert done.status_code == 200
    assert "已登记" in done.text
    assert "试运行：未写入任何内容" not in done.text
    # Five clean projects of five rows, and ten with a duplicated contract row (four rows),
    # each with the Office's history attestation.
    assert ledger.log.tree_size() == size + 5 * 5 + 10 * 4 + 15
