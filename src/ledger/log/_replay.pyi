"""The stream heads map replayed in C (``_replay.c``), for ``ledger verify`` under SHA-256."""

MAX_DEPTH: int

class Replay:
    def apply(self, changes: list[tuple[bytes, bytes]]
              ) -> tuple[bytes, dict[tuple[int, bytes], bytes]] | None: ...
    def root(self) -> bytes: ...
    def export(self) -> tuple[list[tuple[int, bytes, bytes, bytes]],
                              list[tuple[int, bytes, bytes, bytes]]]: ...
