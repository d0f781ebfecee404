"""docs/rules.md is what scripts/rules_table.py writes from the code (rules table, catalogue and
test names), so the table of the Measures as rules cannot drift from the rules."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from api.pages import i18n
from ledger.measures.articles import RULES
from ledger.measures.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rules_table", ROOT / "scripts" /
                                                  "rules_table.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_rules_md_is_what_the_script_writes() -> None:
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == _script().render(ROOT), (
        "docs/rules.md is stale: run python scripts/rules_table.py")


def test_every_rule_names_events_the_catalogue_knows_and_has_a_label() -> None:
    for spec in RULES.values():
        assert spec.events, spec.rule
        assert set(spec.events) <= set(CATALOGUE), spec.rule
        assert re.fullmatch(r"Art\. \d+(\(\d\))?(, \d+(\(\d\))?)*", spec.article), spec.rule
        assert spec.rule in i18n.RULES, f"no page label for {spec.rule}"
        if "deadline" in spec.effects:
            assert spec.deadline, spec.rule
            assert f"{spec.rule}_late" in i18n.RULES, spec.rule
        if "block" in spec.effects:  # docs/design.md §4.6: no block bypassed by omission
            assert spec.missing_start, spec.rule


def test_every_article_with_a_rule_has_a_test_named_after_it() -> None:
    tests = _script().tests_by_article(ROOT)
    numbers = _script().article_numbers
    for spec in RULES.values():
        for article in numbers(spec.article):
            assert tests.get(article), f"no test_art{article:02d}_… for {spec.rule}"
