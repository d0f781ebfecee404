"""ledger verify's check that an entry's bytes are canonical JCS, in C (``_canonical.c``)."""

from collections.abc import Sequence
from typing import Any

def scan_entry(data: bytes) -> dict[str, Any] | None: ...
def known_keys(keys: Sequence[str]) -> None: ...
