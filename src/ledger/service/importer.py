"""``ledger import``: bring the project library in from a spreadsheet, as signed filings.

Reads the workbook (.xlsx with ``openpyxl``, or one sheet as .csv), plans its rows with the pure
:mod:`ledger.measures.importing`, then, project by project, signs each row custodially for the
unit or office that owns it and decides it exactly as the API would (same guards, same flags)
without appending. A project whose rows are all acceptable is appended in one group commit with
the others; a project with any row refused is not filed at all, and its other rows say which row
held it. ``dry_run`` stops before the append and writes nothing, not even the spreadsheet.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid5

from ledger.errors import (
    AuthorisationError,
    FutureDateError,
    KeyNotValidError,
    LedgerError,
    RuleViolationError,
    ValidationFailedError,
)
from ledger.log.canonical import JSONValue
from ledger.measures import importing, rules
from ledger.measures.aggregates import KeyRegistry, Project
from ledger.measures.events import EntryEvent
from ledger.measures.importing import (
    SHEETS,
    Cell,
    DuplicateRow,
    PlannedRow,
    Problem,
    RejectedRow,
    RowOutcome,
    RowRef,
    article_zh,
)
from ledger.measures.roles import Role
from ledger.service.decisions import Batch, Decider
from ledger.service.documents import DocumentBook
from ledger.service.submission import Receipt, SignedFiling

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COMMIT_ROWS = 400
"""Filings per group commit: whole projects are added until a commit holds at least this many."""

Status = Literal["filed", "would_file", "recorded", "duplicate", "refused", "held"]
"""What became of a row: filed now; would be filed (dry run); recorded by an earlier import;
a duplicate of an earlier row; refused (its own problems); held (its project has a refused
row, so none of the project's rows is filed)."""

STATUS_ZH: Mapping[str, str] = {"filed": "已登记", "would_file": "将登记", "recorded": "此前已登记",
                                "duplicate": "重复行", "refused": "不予登记",
                                "held": "暂不登记（同项目有不予登记的行）"}


@dataclass(frozen=True)
class RowReport:
    """One data row's outcome."""

    ref: RowRef
    project: str | None
    status: Status
    event_type: str | None = None
    actor: str | None = None
    effective: str | None = None
    problems: tuple[Problem, ...] = ()
    flags: tuple[str, ...] = ()
    """Flags the filing raises (recorded and flagged, e.g. ``contract_filing_late``)."""
    seq: int | None = None

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"sheet": self.ref.sheet, "row": self.ref.row, "project": self.project,
                "status": self.status, "status_zh": STATUS_ZH[self.status],
                "event_type": self.event_type, "actor": self.actor,
                "effective": self.effective, "seq": self.seq,
                "problems": [p.to_json() for p in self.problems], "flags": list(self.flags)}


@dataclass(frozen=True)
class AttestationReport:
    """The history attestation (历史记录确认) filed, or to be filed, for one project: the Office
    states the day it received each of the project's imported entries that has one."""

    project: str
    status: Literal["filed", "would_file", "held"]
    actor: str
    entries: int
    seq: int | None = None

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"project": self.project, "status": self.status,
                "status_zh": STATUS_ZH[self.status], "actor": self.actor,
                "entries": self.entries, "seq": self.seq}


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do) with every row."""

    source: str
    source_sha256: str
    dry_run: bool
    rows: tuple[RowReport, ...]
    unknown_sheets: tuple[str, ...] = ()
    attestations: tuple[AttestationReport, ...] = ()

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        found: Counter[str] = Counter(row.status for row in self.rows)
        return {status: found[status] for status in STATUS_ZH}

    def projects(self) -> dict[str, int]:
        """Projects per outcome: ``filed`` (or ``would_file``), ``held``, ``unchanged``."""
        by_project: dict[str, set[str]] = {}
        for row in self.rows:
            if row.project:
                by_project.setdefault(row.project, set()).add(row.status)
        out: Counter[str] = Counter()
        for statuses in by_project.values():
            if statuses & {"refused", "held"}:
                out["held"] += 1
            elif statuses & {"filed", "would_file"}:
                out["would_file" if self.dry_run else "filed"] += 1
            else:
                out["unchanged"] += 1
        return dict(out)

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON (``ledger import --json``)."""
        return {"source": self.source, "source_sha256": self.source_sha256,
                "dry_run": self.dry_run, "counts": dict(self.counts()),
                "projects": dict(self.projects()), "unknown_sheets": list(self.unknown_sheets),
                "rows": [row.to_json() for row in self.rows],
                "attestations": [a.to_json() for a in self.attestations]}


# --- reading the file -------------------------------------------------------------------------

Sheets = dict[str, list[tuple[int, dict[str, Cell]]]]
Progress = Callable[[str, int, int], None]


def read_workbook(data: bytes, name: str, sheet: str | None = None) -> Sheets:
    """The data rows of a spreadsheet: sheet → (row number, header → cell) rows.

    .xlsx: every sheet, headers from its first row. .csv: one sheet, named ``sheet`` or after
    the file's stem, in UTF-8 with or without a BOM (the file is stored as the entries' source,
    and a stored text document is UTF-8: save a GB 18030 CSV as "CSV UTF-8" first).
    """
    if name.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailedError("import", [(
                "file", "CSV 文件须为 UTF-8 编码（在 Excel 中另存为“CSV UTF-8”）")]) from None
        rows = list(csv.reader(io.StringIO(text)))
        return {sheet or Path(name).stem: _with_headers(
            [[c if c != "" else None for c in row] for row in rows])}
    from openpyxl import load_workbook  # noqa: PLC0415  (only the import needs it)

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ValidationFailedError("import", [("file", f"不是有效的 .xlsx 文件：{exc}")]) from exc
    try:
        return {ws.title: _with_headers([list(r) for r in ws.iter_rows(values_only=True)])
                for ws in book.worksheets}
    finally:
        book.close()


def _with_headers(rows: list[list[Any]]) -> list[tuple[int, dict[str, Cell]]]:
    if not rows:
        return []
    headers = [str(h).strip() if h is not None else "" for h in rows[0]]
    return [(number, {h: row[i] if i < len(row) else None for i, h in enumerate(headers) if h})
            for number, row in enumerate(rows[1:], start=2)]


def write_template(path: Path, *, examples: bool = False) -> None:
    """Write the import template (项目库导入模板.xlsx): a guide sheet, then one sheet per kind
    of fact with its Chinese headers; ``examples`` fills one example row per sheet."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.comments import Comment  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    book = Workbook()
    guide = book.active
    guide.title = importing.GUIDE_SHEET
    for line in importing.GUIDE_LINES:
        guide.append([line])
    guide.column_dimensions["A"].width = 110
    for spec in SHEETS:
        ws = book.create_sheet(spec.name)
        ws.append([c.header for c in spec.columns])
        for index, column in enumerate(spec.columns, start=1):
            cell = ws.cell(row=1, column=index)
            cell.font = Font(bold=column.required)
            note = ("必填" if column.required else "选填") + {
                "date": "；日期，如 2024-10-09", "wan": "；单位：万元，最多六位小数",
                "year": "；四位年度", "bool": "；填“是”或“否”"}.get(column.kind, "")
            if column.choices:
                note += "；可选：" + "、".join(column.choices)
            cell.comment = Comment(note, "audit-ledger")
            ws.column_dimensions[cell.column_letter].width = max(12, 2 * len(column.header) + 4)
        if examples:
            ws.append([c.example for c in spec.columns])
            for index, column in enumerate(spec.columns, start=1):
                if column.kind == "date":
                    ws.cell(row=2, column=index).number_format = "yyyy-mm-dd"
    book.save(path)


# --- the import -------------------------------------------------------------------------------


class _PlannedDocuments(DocumentBook):
    """The ledger's documents, and the spreadsheet about to be stored (a dry run stores none):
    the rows are decided citing it before it is stored."""

    def __init__(self, ledger: Any, extra: str) -> None:
        super().__init__(ledger.log, ledger.settings, ledger.clock)
        self._known.add(extra)


class _ImportDecider(Decider):
    """The write path's decider, remembering each unit's Art. 22 standing for one import: the
    spreadsheet files no finding, so a unit's standing cannot change within it (the append
    decides again with the standing read afresh)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._standing: dict[str | None, tuple[rules.Reason, ...]] = {}

    def unit_standing(self, unit: str | None,
                      registry: KeyRegistry | None = None) -> tuple[rules.Reason, ...]:
        """:meth:`Decider.unit_standing`, read once per unit."""
        if unit not in self._standing:
            self._standing[unit] = super().unit_standing(unit, registry)
        return self._standing[unit]


@dataclass
class _Project:
    code: str
    rows: list[RowOutcome]
    stream: UUID | None = None
    signed: list[tuple[PlannedRow | None, SignedFiling]] = field(default_factory=list)
    """The project's filings in order; ``None`` in place of a row: its history attestation."""
    reports: dict[RowRef, RowReport] = field(default_factory=dict)
    attestation: AttestationReport | None = None


class Importer:
    """Plans, checks and files a spreadsheet's rows on one :class:`~ledger.app.Ledger`."""

    def __init__(self, ledger: Any) -> None:
        # ``ledger.app.Ledger``; typed loosely because service/ sits below app.py.
        self._ledger = ledger
        self._source = ""  # the spreadsheet's SHA-256 during a run

    def run(self, data: bytes, name: str, *, dry_run: bool = False, sheet: str | None = None,
            progress: Progress | None = None) -> ImportReport:
        """Import ``data`` (the file's bytes; ``name`` tells .xlsx from .csv); ``progress`` is
        told ``("check", rows done, rows)`` as projects are decided, then ``("file", …)`` as
        group commits land."""
        ledger = self._ledger
        sheets = read_workbook(data, name, sheet)
        sha256 = hashlib.sha256(data).hexdigest()
        self._source = sha256
        registry: KeyRegistry = ledger.registry()
        ctx = importing.Context(ledger.identity.origin, sha256, _unit_names(registry))
        plan = importing.plan_import(sheets, ctx)
        total = len(plan.rows)
        done = 0
        decider = _ImportDecider(cache=ledger.cache, custody=ledger.custody,
                                 calendar=ledger.calendar_book,
                                 documents=_PlannedDocuments(ledger, sha256),
                                 log=ledger.log, clock=ledger.clock)
        registry_version = ledger.registry_version
        projects = [_Project(code, rows) for code, rows in plan.projects().items()]
        loose = [RowReport(r.ref, None, "refused", problems=r.problems)
                 for r in plan.rows if isinstance(r, RejectedRow) and not r.project_code]
        ready: list[_Project] = []
        known = set(ledger.log.stream_ids())  # one query, not one per new project
        for project in projects:
            self._check(project, registry, decider, known)
            if project.signed and not dry_run:
                ready.append(project)
            done += len(project.rows)
            if progress is not None:
                progress("check", done, total)
        if ready:
            ledger.add_document(data, XLSX if not name.lower().endswith(".csv")
                                else "text/plain")
            self._commit(ready, registry_version, progress)
        rows = [report for project in projects for report in project.reports.values()]
        rows.extend(loose)
        rows.sort(key=lambda r: ([s.name for s in SHEETS].index(r.ref.sheet), r.ref.row))
        attestations = tuple(p.attestation for p in projects if p.attestation is not None)
        return ImportReport(name, sha256, dry_run, tuple(rows), plan.unknown_sheets,
                            attestations)

    # --- one project ------------------------------------------------------------------------

    def _check(self, project: _Project, registry: KeyRegistry, decider: Decider,
               known: set[UUID]) -> None:
        """Sign and decide the project's rows in date order; fill ``project.reports``."""
        ledger = self._ledger
        reports = project.reports
        stream = importing.project_stream(ledger.identity.origin, project.code)
        project.stream = stream
        existing = ledger.cache.current(stream, fresh=True) if stream in known else None
        base = existing if isinstance(existing, Project) else None
        todo = _to_file(project, base)
        unit = _project_unit(base, todo, registry)
        blocked = any(r.status == "refused" for r in reports.values())
        signed: list[tuple[PlannedRow | None, SignedFiling]] = []
        for row in () if blocked else todo:
            try:
                actor = _actor_for(registry, row.role, unit, ledger)
                signed.append((row, ledger.prepare(
                    actor, row.event_type, row.payload, stream=stream,
                    effective=row.effective, nonce=row.nonce)))
            except LedgerError as exc:
                reports[row.ref] = _refused(row, _problem_of(exc, row))
                blocked = True
        if not blocked and signed:
            blocked = not self._attest(project, stream, signed, registry)
        if not blocked and signed:
            blocked = self._decide(signed, registry, decider, base, reports)
        if blocked:
            _hold(todo, reports)
            if project.attestation is not None:
                project.attestation = replace(project.attestation, status="held")
        else:
            project.signed = signed

    def _attest(self, project: _Project, stream: UUID,
                signed: list[tuple[PlannedRow | None, SignedFiling]],
                registry: KeyRegistry) -> bool:
        """Put the Office's history attestation among the project's filings: the day its
        register says it received each row (受理日期), citing the spreadsheet. It goes just
        before the rows it names, or just after the opening application (a stream opens with
        its application, which it then also names). False if it cannot be signed (the row
        that needs it is reported refused)."""
        ledger = self._ledger
        named = [(row, s) for row, s in signed if row is not None and row.received_on]
        if not named:
            return True
        first = named[0][0]
        assert first is not None
        entries: list[JSONValue] = [
            {"nonce": str(row.nonce), "received_on": row.received_on.isoformat()}
            for row, _ in named if row is not None and row.received_on is not None]
        nonce = uuid5(stream, "HistoryAttested\n" + "\n".join(
            str(row.nonce) for row, _ in named if row is not None))
        try:
            actor = _actor_for(registry, Role.OFFICE, None, ledger)
            attestation = ledger.prepare(
                actor, "HistoryAttested",
                {"source": self._source, "entries": entries},
                stream=stream, effective=ledger.today(), nonce=nonce)
        except LedgerError as exc:
            project.reports[first.ref] = _refused(first, _problem_of(exc, first))
            return False
        at = 1 if signed[0][0] is not None and signed[0][0].event_type == "ApplicationFiled" else 0
        signed.insert(at, (None, attestation))
        project.attestation = AttestationReport(project.code, "would_file", actor, len(entries))
        return True

    def _decide(self, signed: Sequence[tuple[PlannedRow | None, SignedFiling]],
                registry: KeyRegistry, decider: Decider, base: Project | None,
                reports: dict[RowRef, RowReport]) -> bool:
        """Decide the rows as one group commit would, and note each row's new flags; True if
        any is refused."""
        ledger = self._ledger
        batch = Batch(registry=registry, fresh=False, today=ledger.today(),
                      left=Counter(s.filing.stream for _, s in signed))
        calendar = ledger.calendar
        state: Any = base.fork() if base is not None else None
        before = Counter(f.rule for f in rules.flags(state.facts, calendar)) if state else Counter()
        refused = False
        rows = [r for r, _ in signed if r is not None]
        last: PlannedRow | None = None  # the row decided last, and the flags before it
        ahead = before
        for row, filing in signed:
            try:
                event: EntryEvent = decider.decide(filing, registry, batch)
            except LedgerError as exc:
                blamed = row or rows[0]  # the attestation's refusal holds the project
                reports[blamed.ref] = _refused(blamed, _problem_of(exc, blamed))
                refused = True
                break
            state = event.mutate(state)
            after = Counter(f.rule for f in rules.flags(state.facts, calendar))
            if row is None:
                # The attestation re-dates the opening application just before it: that row's
                # flags are the ones that stand after the attestation.
                if last is not None:
                    reports[last.ref] = replace(reports[last.ref], flags=tuple(
                        sorted((after - ahead).elements())))
                before = after
                continue
            new = tuple(sorted((after - before).elements()))
            ahead, before, last = before, after, row
            reports[row.ref] = RowReport(row.ref, row.project_code, "would_file", row.event_type,
                                         filing.filing.actor, row.effective.isoformat(),
                                         flags=new)
        return refused

    # --- appending --------------------------------------------------------------------------

    def _commit(self, ready: Sequence[_Project], registry_version: int,
                progress: Progress | None) -> None:
        """Append whole projects in group commits of about :data:`COMMIT_ROWS` filings."""
        ledger = self._ledger
        batch: list[_Project] = []
        total = sum(len(p.signed) for p in ready)
        done = 0
        for index, project in enumerate(ready):
            batch.append(project)
            if sum(len(p.signed) for p in batch) < COMMIT_ROWS and index < len(ready) - 1:
                continue
            filings = [s for p in batch for _, s in p.signed]
            results: list[Receipt | LedgerError] = ledger.submit_prepared(filings,
                                                                          registry_version)
            position = 0
            for member in batch:
                for row, _ in member.signed:
                    result = results[position]
                    position += 1
                    if row is None:
                        attested = member.attestation
                        if attested is not None:
                            member.attestation = replace(
                                attested, status="filed" if isinstance(result, Receipt)
                                else "held", seq=getattr(result, "seq", None))
                        continue
                    report = member.reports[row.ref]
                    if isinstance(result, Receipt):
                        member.reports[row.ref] = replace(report, status="filed", seq=result.seq)
                    else:
                        member.reports[row.ref] = _refused(row, _problem_of(result, row))
            done += len(filings)
            if progress is not None:
                progress("file", done, total)
            batch = []


def _to_file(project: _Project, base: Project | None) -> list[PlannedRow]:
    """The project's rows still to be filed, in date order; reports for the others."""
    reports = project.reports
    for row in project.rows:
        if isinstance(row, RejectedRow):
            reports[row.ref] = RowReport(row.ref, row.project_code, "refused",
                                         problems=row.problems)
        elif isinstance(row, DuplicateRow):
            reports[row.ref] = RowReport(row.ref, row.project_code, "duplicate", problems=(
                Problem("import_duplicate_row", "", f"与 {row.first} 行内容相同，只登记一次"),))
    recorded = base.nonces if base is not None else set()
    todo: list[PlannedRow] = []
    openers = 0
    for row in project.rows:
        if not isinstance(row, PlannedRow):
            continue
        if str(row.nonce) in recorded:
            reports[row.ref] = RowReport(row.ref, row.project_code, "recorded",
                                         row.event_type, effective=row.effective.isoformat())
            continue
        if row.event_type == "ApplicationFiled":
            openers += 1
            if base is not None or openers > 1:
                reports[row.ref] = _refused(row, Problem(
                    "import_duplicate_project", article_zh(12),
                    f"项目编号“{row.project_code}”已有立项申请，不能再次立项"))
                continue
        todo.append(row)
    opened_here = any(r.ref.sheet == importing.SHEETS[0].name for r in project.rows)
    if todo and base is None and not opened_here:
        for row in todo:
            reports[row.ref] = _refused(row, Problem(
                "import_unknown_project", article_zh(12),
                f"项目编号“{row.project_code}”既不在本表“项目”工作表中，也未在账本中登记"))
        return []
    return sorted(todo, key=lambda r: (r.effective, r.order, r.ref.row))


def _hold(todo: Sequence[PlannedRow], reports: dict[RowRef, RowReport]) -> None:
    """A project with a refused row files none: its other rows say which row held them."""
    first = next((r for r in reports.values() if r.status == "refused"), None)
    for row in todo:
        if row.ref in reports and reports[row.ref].status == "refused":
            continue
        held = (Problem("import_project_held", "",
                        f"同一项目的 {first.ref} 行不予登记，本项目各行暂不登记"),) if first else ()
        reports[row.ref] = RowReport(row.ref, row.project_code, "held", row.event_type,
                                     effective=row.effective.isoformat(), problems=held)


def _refused(row: PlannedRow, problem: Problem) -> RowReport:
    return RowReport(row.ref, row.project_code, "refused", row.event_type,
                     effective=row.effective.isoformat(), problems=(problem,))


def _problem_of(error: LedgerError, row: PlannedRow) -> Problem:
    """A ledger refusal as an import problem: rule, article and words in Chinese."""
    cited = "、".join(article_zh(a) for a in importing.SHEET_BY_NAME[row.ref.sheet].articles)
    if isinstance(error, RuleViolationError):
        quote = f"“{error.quote_zh}”" if error.quote_zh else ""
        return Problem(error.rule, article_zh(error.article),
                       f"不予登记（{article_zh(error.article)}{quote}）：{error.detail}")
    if isinstance(error, FutureDateError):
        return Problem("future_date", cited, "日期晚于今天（" + error.today + "）：" + "；".join(
            f"{p}：{m}" for p, m in error.problems))
    if isinstance(error, ValidationFailedError):
        articles = "、".join(article_zh(a) for a in error.articles) or cited
        return Problem("invalid_payload", articles,
                       "；".join(f"{p}：{m}" for p, m in error.problems))
    if isinstance(error, AuthorisationError | KeyNotValidError):
        return Problem("not_permitted", cited, f"无权登记：{error}")
    return Problem(type(error).__name__, cited, str(error))


def _unit_names(registry: KeyRegistry) -> dict[str, str]:
    """Every way a unit may be written → its id: the id, and the unit's name as its actors'
    display names begin (``教育和体育部 王`` → ``教育和体育部``)."""
    names: dict[str, str] = {}
    for record in registry.actors.values():
        if record.role is Role.UNIT and record.unit:
            names[record.unit] = record.unit
            name = record.display_name.split()[0] if record.display_name.split() else ""
            if name:
                names.setdefault(name, record.unit)
    return names


def _project_unit(base: Project | None, todo: Sequence[PlannedRow],
                  registry: KeyRegistry) -> str | None:
    if base is not None:
        return rules.unit_of_opener(base.facts, registry)
    return next((r.unit for r in todo if r.event_type == "ApplicationFiled"), None)


def _actor_for(registry: KeyRegistry, role: Role, unit: str | None, ledger: Any) -> str:
    """The actor who signs a row: the first (by id) of the role — and, for a unit's filing, of
    the project's unit — whose current key the server holds."""
    now = ledger.now()
    holds = ledger.custody.holds
    for record in sorted(registry.actors.values(), key=lambda r: r.actor):
        if record.role is not role or (role is Role.UNIT and record.unit != unit):
            continue
        try:
            registry.current_key(record.actor, now, lambda key: holds(key.key_id))
        except KeyNotValidError:
            continue
        return record.actor
    who = f"单位“{unit}”" if role is Role.UNIT else f"角色“{role.value}”"
    raise AuthorisationError("import", f"sign for {role.value}: {who}"
                                       "没有服务器托管密钥的已登记用户")


__all__ = ["COMMIT_ROWS", "STATUS_ZH", "AttestationReport", "ImportReport", "Importer",
           "RowReport", "Sheets", "read_workbook", "write_template"]
