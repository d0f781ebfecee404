"""The persisted read model against the log: ``ledger rebuild --check``.

The library pages, the eligibility lists and the unit scoping of the library read the persisted
read model (``projection_projects``, ``projection_actors``, ``projection_meta``), which the
server loads at start and then folds new entries onto. An operator who edits those rows edits
what officials see, and the edit survives: the next entry of the project is folded onto the
edited facts. The log is the record, so the check folds the log again, in memory, up to the
position the read model says it reflects, and compares every project's facts, every actor's
role and unit, and the counters. It changes nothing; ``ledger rebuild`` puts a differing read
model right.

No I/O here: :meth:`projections.runner.Library.check` reads and folds; this compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.measures.facts import ProjectFacts
from projections.state import ActorUnit, LibraryState
from projections.view import StoredLibrary

_FIELDS_LISTED = 6
"""Differing fields named per project; the rest are counted."""


@dataclass(frozen=True)
class ReadModelDifference:
    """One place where the stored read model is not what the log folds to."""

    kind: str
    """``project``, ``actor`` or ``counters``."""
    key: str
    """The project id, the actor id, or the counter's name."""
    message: str


@dataclass(frozen=True)
class ReadModelReport:
    """The outcome of ``ledger rebuild --check``."""

    position: int | None
    """The notification id the stored read model reflects (None: it holds nothing)."""
    entries: int
    """Entries folded from the log up to that position."""
    projects: int
    differences: tuple[ReadModelDifference, ...]

    @property
    def ok(self) -> bool:
        """Whether the stored read model is what the log folds to."""
        return not self.differences


def compare_read_model(library: StoredLibrary, folded: LibraryState
                       ) -> list[ReadModelDifference]:
    """Every difference between the stored rows and ``folded``, the log folded up to the
    stored position: projects by id (then actors, then counters)."""
    differences: list[ReadModelDifference] = []
    stored: dict[str, ProjectFacts | str] = {}
    for row in library.projects:
        project = row.get("project_id") if isinstance(row, Mapping) else None
        try:
            facts = ProjectFacts.from_json(row)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            stored[str(project)] = f"its stored facts do not read as facts ({exc})"
            continue
        stored[str(facts.project_id)] = facts  # (an edited id may be of another type)
    for project in sorted(stored.keys() | folded.projects.keys()):
        mine, theirs = folded.projects.get(project), stored.get(project)
        if theirs == mine:
            continue
        if mine is None:
            message = "is in the read model but not in the log"
        elif theirs is None:
            message = "is in the log but missing from the read model"
        elif isinstance(theirs, str):
            message = theirs
        else:
            message = _differing_fields(mine, theirs)
        differences.append(ReadModelDifference("project", project, f"project {project} {message}"))
    for actor in sorted(library.actors.keys() | folded.actors.keys()):
        mine_actor, theirs_actor = folded.actors.get(actor), library.actors.get(actor)
        if mine_actor != theirs_actor:
            differences.append(ReadModelDifference(
                "actor", actor, f"actor {actor}: the read model says {_unit(theirs_actor)},"
                                f" the log {_unit(mine_actor)}"))
    for name, theirs_value, mine_value in (
            ("entries", library.entries, folded.entries),
            ("last_recorded_at", library.last_recorded_at, folded.last_recorded_at)):
        if theirs_value != mine_value:
            differences.append(ReadModelDifference(
                "counters", name, f"{name}: the read model says {theirs_value!r}, the log"
                                  f" {mine_value!r}"))
    return differences


def _differing_fields(mine: ProjectFacts, theirs: ProjectFacts) -> str:
    """``differs in a, b (log: x, read model: y) …``."""
    ours, stored = mine.to_json(), theirs.to_json()
    names = [name for name in ours if ours[name] != stored.get(name)]
    shown = ", ".join(f"{name} (log: {_short(ours[name])}, read model: {_short(stored.get(name))})"
                      for name in names[:_FIELDS_LISTED])
    more = f" and {len(names) - _FIELDS_LISTED} more" if len(names) > _FIELDS_LISTED else ""
    return f"differs from the log in {shown}{more}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unit(actor: ActorUnit | None) -> str:
    if actor is None:
        return "nothing"
    return f"role {actor.role}" + (f", unit {actor.unit}" if actor.unit else "")


__all__ = ["ReadModelDifference", "ReadModelReport", "compare_read_model"]
