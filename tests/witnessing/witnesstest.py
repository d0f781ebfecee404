"""Helpers of the witness tests: a log made of the ledger's formats, a raw HTTP client written from
c2sp.org/tlog-witness, and ``ledger witness serve`` run as a real process on loopback."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ledger.crypto.suites import Profile, Signer
from ledger.log.checkpoint import Checkpoint, VerifierKey, sign_checkpoint
from ledger.log.merkle import MemoryTree

ROOT = Path(__file__).resolve().parents[2]
WITNESS_NAME = "audit.gaoxin.example/w1"


@dataclass
class Log:
    """A log in memory: a Merkle tree of random entry hashes and a signing key."""

    profile: Profile
    origin: str
    signer: Signer = field(init=False)
    tree: MemoryTree = field(init=False)
    entries: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.signer = self.profile.signature.generate()
        self.tree = MemoryTree(self.profile.hash)

    @property
    def vkey(self) -> str:
        """The log's verifier key; its name is the origin."""
        return VerifierKey.for_signer(self.origin, self.signer).encode()

    def grow(self, leaves: int) -> int:
        """Append ``leaves`` random entry hashes; return the new size."""
        new = [os.urandom(32) for _ in range(leaves)]
        self.entries.extend(new)
        self.tree.extend(new)
        return self.tree.size

    def note(self, size: int | None = None, extensions: tuple[str, ...] = (),
             signer: Signer | None = None) -> str:
        """The signed checkpoint note of ``size`` (default: the current size)."""
        size = self.tree.size if size is None else size
        checkpoint = Checkpoint(self.origin, size, self.tree.root(size), extensions)
        return sign_checkpoint(checkpoint, self.origin, signer or self.signer).text()

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        """The RFC 6962 consistency proof from ``old`` (none from 0)."""
        return [] if old == 0 else self.tree.consistency_proof(old, new)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, exact Content-Type and body text."""

    status: int
    content_type: str
    text: str


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RawClient:
    """A tlog-witness client from the specification: ``http.client`` and bytes, nothing of ours."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """One request on a fresh connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            return Answer(response.status, response.getheader("Content-Type") or "",
                          response.read().decode("utf-8"))
        finally:
            connection.close()

    def add_checkpoint(self, old: int, proof: list[bytes], note: str) -> Answer:
        """``POST /add-checkpoint`` with ``old N``, base64 proof lines, an empty line, the note."""
        import base64  # noqa: PLC0415

        lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
        return self.request("POST", "/add-checkpoint",
                            ("\n".join(lines) + "\n\n" + note).encode("utf-8"))


def ledger_command(*args: str) -> list[str]:
    """``ledger …`` run with this interpreter."""
    return [sys.executable, "-m", "api.cli", *args]


def run_ledger(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``ledger …`` to completion."""
    return subprocess.run(ledger_command(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


class WitnessServer:
    """``ledger witness serve`` as a process on 127.0.0.1."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = free_port()
        self.process = subprocess.Popen(
            ledger_command("witness", "serve", "--state", str(state), "--host", "127.0.0.1",
                           "--port", str(self.port)),
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.client = RawClient(self.port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the witness exited: {self.process.stderr.read()}")  # type: ignore[union-attr]
            try:
                if self.client.request("GET", "/").status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the witness did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop (or kill) the process."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        if self.process.stderr is not None:
            self.process.stderr.close()
