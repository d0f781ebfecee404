"""The stream heads map's replay loops in C (``_replay.c``), for ``ledger verify``."""

from collections.abc import Callable

def set_leaves(changes: list[tuple[bytes, bytes]],
               leaf_of: dict[bytes, tuple[int, int, list[bytes], int]],
               hashes: dict[int, bytes], levels: dict[int, set[int]],
               tags: tuple[bytes, ...]) -> None: ...
def hash_levels(levels: dict[int, set[int]], hashes: dict[int, bytes],
                inner: dict[int, tuple[list[bytes], int, bytes]],
                inner_slot: Callable[[int], tuple[list[bytes], int, bytes]],
                empty: bytes, group_levels: int) -> tuple[bytes, list[int]]: ...
