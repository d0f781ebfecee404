"""Tables as files: CSV (UTF-8 with a byte-order mark, so that Excel opens Chinese text right)
and Excel workbooks (``.xlsx``, written with openpyxl). Both carry exactly the rows and columns
given: the pages pass the filtered, sorted view the reader sees (every page of it).

Money columns hold 万元 with two decimals: text in CSV, a number formatted ``#,##0.00`` in Excel
(the value is the decimal the page shows, so a sum in Excel matches the page's totals).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """One exported column: its heading, how a row gives its value, and whether it is money."""

    heading: str
    value: Callable[[dict[str, Any]], object]
    money: bool = False


def _cell(value: object) -> str:
    if value is None:
        return ""
    return str(value)


def _cell_text(value: str) -> str:
    # A cell starting with =, +, - or @ is a formula to a spreadsheet: keep it text (CSV
    # injection). Money and numbers never reach here with a sign (their columns are marked).
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def table(columns: Sequence[Column], rows: Iterable[dict[str, Any]]) -> list[list[str]]:
    """The header and one list of cell texts per row."""
    out = [[c.heading for c in columns]]
    for row in rows:
        out.append([_cell(c.value(row)) if c.money else _cell_text(_cell(c.value(row)))
                    for c in columns])
    return out


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def csv_bytes(columns: Sequence[Column], rows: Iterable[dict[str, Any]]) -> bytes:
    """The table as CSV text in UTF-8 with a BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(table(columns, rows))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def csv_response(columns: Sequence[Column], rows: Iterable[dict[str, Any]],
                 filename: str) -> Response:
    """A CSV download."""
    return Response(csv_bytes(columns, rows), media_type=CSV_TYPE,
                    headers={"Content-Disposition": _disposition(filename),
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def xlsx_bytes(columns: Sequence[Column], rows: Iterable[dict[str, Any]], title: str) -> bytes:
    """The table as an Excel workbook with one sheet."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([c.heading for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    cells = table(columns, rows)[1:]
    for texts in cells:
        values: list[object] = []
        for column, text in zip(columns, texts, strict=True):
            if column.money and text:
                values.append(Decimal(text))
            elif text.isdigit() and len(text) < 16:
                values.append(int(text))
            else:
                values.append(text)
        sheet.append(values)
    for index, column in enumerate(columns, start=1):
        if column.money:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "#,##0.00"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_response(columns: Sequence[Column], rows: Iterable[dict[str, Any]], filename: str,
                  title: str) -> Response:
    """An Excel download."""
    return Response(xlsx_bytes(columns, rows, title), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": _disposition(filename),
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


__all__ = ["Column", "csv_bytes", "csv_response", "table", "xlsx_bytes", "xlsx_response"]
