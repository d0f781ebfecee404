"""The fold's copies and the facts' JSON text (no database)."""

from __future__ import annotations

import json
from dataclasses import replace

from rulebook import Script

from ledger.measures.catalogue import CATALOGUE, EXAMPLES
from ledger.measures.facts import ProjectFacts, Ref, empty_facts, evolve


def _every_handler() -> list[ProjectFacts]:
    """Facts after each filing of a script that files every project event type once."""
    script = Script()
    seen = [script.facts]
    for event_type in CATALOGUE:
        if event_type not in EXAMPLES or CATALOGUE[event_type].articles == ():
            continue  # registry events do not reach a project's fold
        script.file(event_type, f"2025-03-0{1 + len(seen) % 9}")
        seen.append(script.facts)
    return seen


def test_stored_json_loads_back_to_the_same_facts() -> None:
    for facts in _every_handler():
        loaded = ProjectFacts.from_json(json.loads(facts.to_stored_json()))
        assert loaded == facts
        assert loaded.canonical() == facts.canonical()  # same JSON types too (false is not 0)
        assert loaded.to_stored_json() == facts.to_stored_json()


def test_stored_json_leaves_out_only_default_values() -> None:
    facts = _every_handler()[-1]
    stored = json.loads(facts.to_stored_json())
    full = facts.to_json()
    assert list(stored) == [name for name in full if name in stored]  # field order kept
    defaults = empty_facts("p-1").to_json()
    for name, value in full.items():
        assert name in stored or value == defaults[name]
    assert json.loads(empty_facts("p-1").to_stored_json()) == {"project_id": "p-1"}


def test_stored_json_keeps_a_value_equal_to_the_default_but_of_another_type() -> None:
    facts = evolve(empty_facts("p-1"), fiscal_year=False, special_circumstances=0)
    stored = json.loads(facts.to_stored_json())
    assert stored == {"project_id": "p-1", "fiscal_year": False, "special_circumstances": 0}
    assert ProjectFacts.from_json(stored).canonical() == facts.canonical()


def test_evolve_is_replace_without_touching_the_original() -> None:
    facts = empty_facts("p-1")
    ref = Ref(1, "h01", "2025-01-01", "2025-01-01")
    changed = evolve(facts, title="新系统", application=ref)
    assert changed == replace(facts, title="新系统", application=ref)
    assert facts == empty_facts("p-1")
    assert list(vars(changed)) == list(vars(facts))  # field order kept (the JSON text relies on it)


def test_every_fold_step_returns_a_new_object() -> None:
    steps = _every_handler()
    assert len({id(f) for f in steps}) == len(steps)
    assert [f.entries for f in steps] == list(range(len(steps)))
