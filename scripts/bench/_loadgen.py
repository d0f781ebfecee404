"""A lean HTTP/1.1 load generator: keep-alive connections on asyncio, requests prebuilt.

The server under test shares two cores with the load generator, so the generator must cost
little per request: it sends bytes built before the clock starts and reads each response by
its Content-Length, nothing more (httpx costs ~10x more CPU per request).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    """One prebuilt request: its bytes, and the statuses that mean "send it again"."""

    data: bytes
    retry_on: frozenset[int] = frozenset({409, 503})


def build(url: str, method: str, path: str, body: object,
          headers: dict[str, str] | None = None) -> Request:
    """Serialise a JSON request once."""
    host = urlsplit(url).netloc
    payload = json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(payload)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return Request(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(url: str, requests: Sequence[Request], latencies: list[float],
                      failures: list[str]) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        for request in requests:
            started = time.perf_counter()
            while True:
                writer.write(request.data)
                status, body = await _read_response(reader)
                if status not in request.retry_on:
                    break
                await asyncio.sleep(0.01)
            if status // 100 != 2:
                failures.append(f"{status} {body[:200]!r}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def run(url: str, requests: Sequence[Request], clients: int) -> dict[str, float]:
    """Send every request over ``clients`` connections; return rate and latency figures."""
    shares = [requests[i::clients] for i in range(clients)]
    latencies: list[float] = []
    failures: list[str] = []

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(_connection(url, share, latencies, failures)
                               for share in shares if share))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    latencies.sort()
    return {"per_s": round(len(requests) / elapsed),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, 1)}
