"""Display names of construction units (项目建设单位) for the pages: 韩集镇, not ``town-hanji``.

A unit is identified in the ledger by the id its actors are registered with (``unit`` of
``ActorRegistered``); the entries never carry its name. The administrator names units on the
units page; each naming is kept in the ledger's metadata under its own set-once key
(``unit.name.<unit>.<N>``, N = 1, 2, …), so a renaming never overwrites history and both
backends keep it the same way. A unit nobody has named yet shows the name the zone's demo data
set gives it, or else its id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

from eventsourcing.persistence import IntegrityError as PersistenceIntegrityError

from ledger.app import Ledger
from ledger.demo import UNITS as KNOWN_UNITS
from ledger.errors import ValidationFailedError

_FRESH_FOR = 5.0  # seconds a name read from the database is trusted (renamed elsewhere: ≤ 5 s)
_MAX_NAME = 64
_PREFIX = "unit.name."


def _key(unit: str, number: int) -> str:
    return f"{_PREFIX}{unit}.{number}"


class UnitNames:
    """Reads and sets unit display names over one ledger (one per app)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._names: dict[str, tuple[str | None, int, float]] = {}  # unit → (name, N, read at)
        self._lock = threading.Lock()

    def _newest(self, unit: str) -> tuple[str | None, int]:
        """The newest kept name of a unit and its number (exponential then binary search)."""
        log = self.ledger.log

        def kept(n: int) -> bool:
            return log.get_meta(_key(unit, n)) is not None

        if not kept(1):
            return None, 0
        low, high = 1, 2
        while kept(high):
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if kept(middle) else (low, middle)
        return log.get_meta(_key(unit, low)), low

    def _read(self, unit: str) -> tuple[str | None, int]:
        with self._lock:
            hit = self._names.get(unit)
        if hit is not None and time.monotonic() - hit[2] < _FRESH_FOR:
            return hit[0], hit[1]
        name, number = self._newest(unit)
        with self._lock:
            self._names[unit] = (name, number, time.monotonic())
        return name, number

    def set_name(self, unit: str, name: str) -> None:
        """Name a unit (admin only: the caller checks the role)."""
        name = " ".join(name.split())
        if not name or len(name) > _MAX_NAME:
            raise ValidationFailedError("unit", [("name", f"1 to {_MAX_NAME} characters")])
        _, number = self._newest(unit)
        number += 1
        while True:
            try:
                self.ledger.log.put_meta(_key(unit, number), name)
                break
            except PersistenceIntegrityError:  # another process named it under this number
                number += 1
        with self._lock:
            self._names[unit] = (name, number, time.monotonic())

    def name(self, unit: str | None) -> str:
        """The unit's display name (its id when it has none; ``—`` for no unit)."""
        if not unit:
            return "—"
        kept, _ = self._read(unit)
        return kept or KNOWN_UNITS.get(unit, unit)

    def named(self, unit: str) -> bool:
        """Whether the administrator has named the unit."""
        return self._read(unit)[0] is not None

    def mapping(self, units: Iterable[str | None]) -> Mapping[str, str]:
        """``{unit: name}`` for the given units."""
        return {u: self.name(u) for u in units if u}


__all__ = ["KNOWN_UNITS", "UnitNames"]
