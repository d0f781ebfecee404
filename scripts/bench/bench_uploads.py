"""A document upload with its shared allowance against the upload alone, side by side.

Ours:     ``RateLimiter.take`` (one upsert of the token's row in ``upload_allowances``, shared by
          every server process) and then ``ledger.documents.add``, as ``POST /api/v1/documents``
          does after authentication.
Baseline: ``ledger.documents.add`` alone (storing the document and its uploader), what an
          upload cost when each process kept its allowance in memory.

Documents of ``--size`` bytes (a PDF header, then random bytes, so each is new), over
``--tokens`` tokens in turn; the two are interleaved, ``--n`` uploads each a round, the median
round kept. Prints milliseconds an upload and the ratio.

    .venv/bin/python scripts/bench/bench_uploads.py [--backend both] [--n 300] [--size 65536]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from api.limits import RateLimiter


def main() -> None:
    """Measure and print the table."""
    p = c.parser(__doc__.splitlines()[0], n=300, quick_n=50)
    p.add_argument("--size", type=int, default=65536, help="bytes a document")
    p.add_argument("--tokens", type=int, default=5, help="tokens uploading in turn")
    args = p.parse_args()
    n = c.size(args)
    c.header("bench_uploads (a document upload with its shared allowance)", args)
    rows = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.empty()
            limiter = RateLimiter(ledger.log, 10**9, "document uploads")

            def uploads(*, allowance: bool) -> float:
                documents = [b"%PDF-1.4\n" + os.urandom(args.size) for _ in range(n)]
                t0 = time.perf_counter()
                for i, data in enumerate(documents):
                    if allowance:
                        limiter.take(f"Bearer token-{i % args.tokens}")
                    ledger.documents.add(data, "application/pdf", owner="unit:edu",
                                         actor="edu-wang")
                return (time.perf_counter() - t0) / n * 1000

            uploads(allowance=True)  # warm-up: connections, statements, the table's rows
            ours, bare = [], []
            for _ in range(args.repeat):
                bare.append(uploads(allowance=False))
                ours.append(uploads(allowance=True))
            ours_ms, bare_ms = sorted(ours)[len(ours) // 2], sorted(bare)[len(bare) // 2]
            rows.append([name, n, args.size, f"{bare_ms:.2f}", f"{ours_ms:.2f}",
                         f"{ours_ms - bare_ms:.2f}", f"{ours_ms / bare_ms:.2f}x"])
    c.table(f"Document upload, ms each (median of {args.repeat} rounds)",
            ["backend", "uploads", "bytes", "upload alone ms", "with the shared allowance ms",
             "allowance ms", "ours / alone"], rows)


if __name__ == "__main__":
    main()
