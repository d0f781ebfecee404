"""The project timeline as server-rendered SVG: one row per entry, in log order.

Each row shows the date recorded (China Standard Time), a node coloured by the signer's role,
the sequence number and the event, its article tags, the signer and a verified mark (✓ the
author signature verified under a key valid when recorded, ✗ it did not). A year band opens
each new year. Styling is by class (``static/pages.css``), so the SVG prints as it shows.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from api.pages.i18n import ROLES, article, event_label, label
from api.pages.text import cst

_WIDTH = 960
_ROW = 30
_YEAR = 26
_TOP = 8
_AXIS = 116
_LABEL = 132
_TAGS = 420
_SIGNER = 640
_MARK = 936


def _width(text: str, size: float = 12.5) -> float:
    """Rough rendered width: CJK characters are square, Latin ones about half that."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.58 for c in text)


def _clip(text: str, room: float) -> str:
    if _width(text) <= room:
        return text
    out = ""
    for char in text:
        if _width(out + char + "…") > room:
            break
        out += char
    return out + "…"


def _row(row: Mapping[str, Any], status: str, signer: str, lang: str,
         t: Callable[..., str]) -> str:
    """One entry's row, drawn at y = 0 (the caller moves it into place)."""
    seq = int(row["seq"])
    recorded = cst(str(row.get("recorded_at") or ""))
    middle = _ROW / 2
    role = str(row.get("role") or "")
    event = event_label(str(row["type"]), lang)
    mark, mark_class, mark_text = {
        "valid": ("✓", "ok", t("project.verified")),
        "invalid": ("✗", "bad", t("project.invalid")),
    }.get(status, ("?", "unk", t("project.unchecked")))
    tags = [article(str(a), lang) for a in row.get("articles") or ()]
    code = "" if lang == "zh" else f" ({row['type']})"  # the event's code is for English
    title = (f"#{seq} {event}{code} — {' '.join(tags)} — {t('project.signer')}:"
             f" {signer} ({label(ROLES, role, lang)}) — {t('project.recorded')}: {recorded}"
             f" — {mark_text}")
    parts = [f'<title>{escape(title)}</title>',
             f'<text class="tl-date" x="4" y="{middle + 4}">{escape(recorded[:10])}</text>',
             f'<circle class="tl-node role-{escape(role or "none")}" cx="{_AXIS}"'
             f' cy="{middle}" r="6"/>',
             f'<text class="tl-label" x="{_LABEL}" y="{middle + 4}">'
             f'<tspan class="tl-seq">#{seq}</tspan> '
             f'{escape(_clip(event, _TAGS - _LABEL - 48))}</text>']
    x: float = _TAGS
    for tag in tags:
        width = _width(tag, 11) + 10
        if x + width > _SIGNER - 8:
            break
        parts.append(f'<rect class="tl-tag" x="{x:.0f}" y="{middle - 9}" width="{width:.0f}"'
                     f' height="18" rx="4"/><text class="tl-tag-text" x="{x + 5:.0f}"'
                     f' y="{middle + 4}">{escape(tag)}</text>')
        x += width + 4
    parts.append(f'<text class="tl-signer" x="{_SIGNER}" y="{middle + 4}">'
                 f'{escape(_clip(signer, _MARK - _SIGNER - 24))}</text>')
    parts.append(f'<text class="tl-mark {mark_class}" x="{_MARK}" y="{middle + 5}"'
                 f' aria-label="{escape(mark_text)}">{mark}</text>')
    return "".join(parts)


# A recorded entry's row never changes while its signature check, signer and language do not:
# drawn once, it is moved into place on every later timeline of the project.
_ROWS: OrderedDict[tuple[Any, ...], tuple[str, str]] = OrderedDict()
_ROWS_LIMIT = 200_000
_ROWS_LOCK = threading.Lock()


def _row_cached(row: Mapping[str, Any], status: str, signer: str, lang: str,
                t: Callable[..., str]) -> tuple[str, str]:
    """The row's year (Beijing time) and its drawing."""
    key = (row.get("entry_hash"), row.get("seq"), row.get("type"), row.get("recorded_at"),
           row.get("role"), status, signer, lang)
    with _ROWS_LOCK:
        found = _ROWS.get(key)
    if found is None or key[0] is None:
        found = (cst(str(row.get("recorded_at") or ""))[:4], _row(row, status, signer, lang, t))
        with _ROWS_LOCK:
            _ROWS[key] = found
            while len(_ROWS) > _ROWS_LIMIT:
                _ROWS.popitem(last=False)
    return found


def timeline_svg(rows: Sequence[Mapping[str, Any]], signatures: Mapping[int, str],
                 names: Mapping[str, str], lang: str, t: Callable[..., str]) -> str:
    """The timeline of ``rows`` (trail rows) as an inline SVG element."""
    parts: list[str] = []
    y = _TOP
    year = None
    for row in rows:
        seq = int(row["seq"])
        signer_id = str(row.get("actor") or "")
        status = signatures.get(seq, str(row.get("signature") or "unchecked"))
        recorded_year, inner = _row_cached(row, status, names.get(signer_id, signer_id), lang,
                                           t)
        if recorded_year != year:
            year = recorded_year
            parts.append(f'<g class="tl-year"><line x1="0" x2="{_WIDTH}" y1="{y + 4}"'
                         f' y2="{y + 4}"/><text x="4" y="{y + 18}">{escape(year)}</text></g>')
            y += _YEAR
        parts.append(f'<g class="tl-row" id="tl-{seq}"><g transform="translate(0 {y})">'
                     f'{inner}</g></g>')
        y += _ROW
    height = y + _TOP
    axis = (f'<line class="tl-axis" x1="{_AXIS}" x2="{_AXIS}" y1="{_TOP}"'
            f' y2="{height - _TOP}"/>')
    return (f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img"'
            f' aria-labelledby="timeline-title timeline-desc" viewBox="0 0 {_WIDTH} {height}"'
            f' width="{_WIDTH}" height="{height}" preserveAspectRatio="xMinYMin meet">'
            f'<title id="timeline-title">{escape(t("project.timeline"))}</title>'
            f'<desc id="timeline-desc">{escape(t("project.timeline_desc"))}</desc>'
            f'{axis}{"".join(parts)}</svg>')
