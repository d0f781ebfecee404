"""What ``ledger verify`` recomputes, in C (``_replay.c``), under SHA-256."""

from collections.abc import Sequence

MAX_DEPTH: int

class Replay:
    def apply(self, changes: list[tuple[bytes, bytes]]
              ) -> tuple[bytes, dict[tuple[int, bytes], bytes]] | None: ...
    def apply_packed(self, changes: list[tuple[bytes, bytes]]
                     ) -> tuple[bytes, bytes, int] | None: ...
    def root(self) -> bytes: ...
    def export(self) -> tuple[list[tuple[int, bytes, bytes, bytes]],
                              list[tuple[int, bytes, bytes, bytes]]]: ...

def merkle_extend(size: int, edge: list[tuple[int, bytes]], entry_hashes: Sequence[bytes],
                  levels: list[list[bytes]]) -> int: ...
