"""The regulation's write-side rules: what an actor may not do now (DESIGN §2, principle 3).

Each rule lives here once, as a function that raises :class:`RuleViolationError` carrying the
rule id, the article and the entries that cause it; guards call it before an append and the
projections call the same predicates to explain ineligibility.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.entries import Filing
from ledger.errors import AuthorisationError, RuleViolationError
from ledger.roles import Role

if TYPE_CHECKING:
    from ledger.aggregates import KeyRecord, KeyRegistry, Project


def unit_of_project(project: Project, registry: KeyRegistry) -> str | None:
    """The construction unit (项目建设单位) that opened the project."""
    opener = registry.actors.get(project.opened_by)
    return opener.unit if opener else None


def check_unit_scope(project: Project, filing: Filing, key: KeyRecord,
                     registry: KeyRegistry) -> None:
    """A unit files only for its own projects (DESIGN §3, last line)."""
    if key.role is Role.UNIT and project.opened_by and (
        unit_of_project(project, registry) != key.unit
    ):
        raise AuthorisationError(filing.actor, f"file for project {project.id} of another unit")


def check_not_terminated(project: Project, filing: Filing) -> None:
    """Art. 30: a terminated project (终止) takes no further filings."""
    if project.terminated_by is not None:
        raise RuleViolationError(
            "project_terminated", "Art. 30",
            f"project {project.id} is terminated; {filing.type} cannot be filed",
            caused_by=[project.terminated_by])


def check_contract_after_approval(project: Project, filing: Filing) -> None:
    """Art. 9: a contract is filed only after an approving review opinion (审核意见)."""
    if filing.type == "ContractFiled" and project.approving_opinion is None:
        raise RuleViolationError(
            "contract_before_approval", "Art. 9",
            "a contract cannot be filed before an approving review opinion (审核意见)")


def check_filing_allowed(project: Project, filing: Filing, key: KeyRecord,
                         registry: KeyRegistry) -> None:
    """Every write-side rule that applies to a project filing."""
    check_unit_scope(project, filing, key, registry)
    check_not_terminated(project, filing)
    check_contract_after_approval(project, filing)
