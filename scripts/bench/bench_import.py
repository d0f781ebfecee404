"""Import throughput: ``ledger import`` of a spreadsheet (target: >= 500 rows/s on PostgreSQL).

A synthetic project library of N rows (N/5 projects: 项目, 评审意见, 资金安排, 合同备案, 资金拨付,
all valid: tests/ledger/service/importbook.py) is written as .xlsx once, then imported into a
fresh ledger per repetition with :class:`ledger.service.importer.Importer`: reading the
workbook, planning the rows, signing each custodially, deciding each as the API would, and the
group commits. Reported: the dry run (everything but the append) and the real import, rows/s,
median of ``--repeat``; also rows per second of this process's own CPU time (the client side:
on a busy machine the wall-clock rate waits for a core). No baseline: nothing else imports spreadsheets into the ledger.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "ledger" / "service"))

import _common as c
from importbook import library

from ledger.measures.roles import Role
from ledger.service.importer import Importer

TARGET = 500.0


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=5000, quick_n=1000)
    args = p.parse_args()
    rows = c.size(args)
    c.header("bench_import (spreadsheet import, rows/s)", args)
    book = library(rows // 5, ("edu",), prefix="BN")
    path = book.write_xlsx(Path(tempfile.mkdtemp(prefix="ledger-bench-import-")) / "lib.xlsx")
    data = path.read_bytes()
    print(f"workbook: {book.rows()} rows, {rows // 5} projects, {len(data):,} bytes;"
          f" repeat: {args.repeat}; a fresh ledger per repetition", flush=True)
    table = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            dry_times: list[float] = []
            real_times: list[float] = []
            real_cpu: list[float] = []
            for _ in range(args.repeat):
                ledger = b.ours()
                ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
                ledger.register_actor("finance-zhao", Role.FINANCE, None, "财政管理部 赵")
                importer = Importer(ledger)
                c.wait_quiet()
                start = time.perf_counter()
                dry = importer.run(data, path.name, dry_run=True)
                dry_times.append(time.perf_counter() - start)
                assert dry.counts()["would_file"] == book.rows(), dry.counts()
                c.wait_quiet()
                start, cpu = time.perf_counter(), time.process_time()
                report = importer.run(data, path.name)
                real_times.append(time.perf_counter() - start)
                real_cpu.append(time.process_time() - cpu)
                assert report.counts()["filed"] == book.rows(), report.counts()
            dry_s = sorted(dry_times)[len(dry_times) // 2]
            real_s = sorted(real_times)[len(real_times) // 2]
            cpu_s = sorted(real_cpu)[len(real_cpu) // 2]
            rate = book.rows() / real_s
            table.append((name, book.rows(), f"{dry_s:.2f}", f"{book.rows() / dry_s:,.0f}",
                          f"{real_s:.2f}", f"{rate:,.0f}", f"{book.rows() / cpu_s:,.0f}",
                          c.verdict(rate, TARGET) if name == "postgres" else "—"))
    c.table("import throughput (median)", ("backend", "rows", "dry run s", "dry rows/s",
                                                  "import s", "import rows/s",
                                                  "rows per CPU s (this process)",
                                                  f">= {TARGET:.0f} rows/s"), table)


if __name__ == "__main__":
    main()
