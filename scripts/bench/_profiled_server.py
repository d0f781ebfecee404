"""Diagnosis only: run the API under yappi (CPU clock, every thread); write stats on SIGUSR1."""

from __future__ import annotations

import os
import signal
import sys

import uvicorn
import yappi

yappi.set_clock_type("cpu")
yappi.start(builtins=False)


def _dump(*_: object) -> None:
    yappi.stop()
    stats = yappi.get_func_stats()
    stats.sort("tsub")
    with open(os.environ["BENCH_YAPPI"], "w") as out:
        stats.print_all(out=out, columns={0: ("name", 90), 1: ("ncall", 10), 2: ("tsub", 8),
                                          3: ("ttot", 8), 4: ("tavg", 8)})
        out.write("\n=== by total\n")
        stats.sort("ttot")
        stats.print_all(out=out, columns={0: ("name", 90), 1: ("ncall", 10), 2: ("tsub", 8),
                                          3: ("ttot", 8), 4: ("tavg", 8)})
    os._exit(0)


signal.signal(signal.SIGUSR1, _dump)
uvicorn.run("api.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
