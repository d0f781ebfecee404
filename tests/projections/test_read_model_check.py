"""``ledger rebuild --check``: the persisted read model, which the library pages read, against
the log folded again. An operator who edits the read model's rows edits what officials see;
the check names every project, actor and counter that differs, and changes nothing."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import run_sql, upload_example_documents
from projections.runner import Library


def _filed(ledger: Ledger, projects: int = 3) -> list[str]:
    streams = [str(ledger.file("edu-wang", "ApplicationFiled",
                               EXAMPLES["ApplicationFiled"]).stream) for _ in range(projects)]
    Library(ledger).catch_up()
    return streams


def _set_field(url: str, project: str, field: str, value: Any) -> None:
    """One field of a project's stored facts, edited beneath the ledger."""
    text = json.dumps(value).replace("'", "''")
    if url.startswith("sqlite"):
        run_sql(url, f"UPDATE {{projection_projects}} SET facts = json_set(facts, '$.{field}',"
                     f" json('{text}')) WHERE project_id = '{project}'")
    else:
        run_sql(url, f"UPDATE {{projection_projects}} SET facts = facts || jsonb_build_object("
                     f"'{field}', '{text}'::jsonb) WHERE project_id = '{project}'")


def _check(url: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli_app, ["rebuild", "--check", "--json"], env={
        "LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "test"})
    return result.exit_code, json.loads(result.stdout)


def test_a_read_model_kept_up_to_the_log_checks(ledger: Ledger, settings: Settings) -> None:
    _filed(ledger)
    ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])  # not caught up
    report = Library(ledger, load=False).check()
    assert report.ok, report.differences
    assert report.entries == ledger.log.tree_size() - 1  # as of the read model's position
    code, answer = _check(settings.database_url)
    assert (code, answer["ok"], answer["differences"]) == (0, True, [])


def test_edited_facts_actors_and_counters_are_named(ledger: Ledger, settings: Settings) -> None:
    streams = _filed(ledger)
    url = settings.database_url
    _set_field(url, streams[0], "budget_estimate_fen", 1)
    _set_field(url, streams[1], "title", "改过的标题")
    run_sql(url, "UPDATE {projection_actors} SET unit = 'health' WHERE actor = 'edu-wang'")
    run_sql(url, f"DELETE FROM {{projection_projects}} WHERE project_id = '{streams[2]}'")
    run_sql(url, "UPDATE {projection_meta} SET entries = entries + 5")
    code, answer = _check(url)
    assert code == 1
    found = {(d["kind"], d["key"]): d["message"] for d in answer["differences"]}
    assert "budget_estimate_fen (log: " in found["project", streams[0]]
    assert "read model: 1)" in found["project", streams[0]]
    assert "title" in found["project", streams[1]]
    assert "missing from the read model" in found["project", streams[2]]
    assert "unit health" in found["actor", "edu-wang"]
    assert ("counters", "entries") in found
    assert len(found) == 5
    # Nothing was changed by the check; a rebuild puts the read model right.
    assert _check(url)[0] == 1
    assert CliRunner().invoke(cli_app, ["rebuild"], env={
        "LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "test"}).exit_code == 0
    code, answer = _check(url)
    assert (code, answer["ok"], answer["differences"]) == (0, True, [])


def test_an_edit_survives_new_entries_until_the_check_finds_it(ledger: Ledger,
                                                                settings: Settings) -> None:
    """Why the check matters: the server folds new entries onto the stored facts, so an edit
    of a project's facts is carried forward when the project files again."""
    streams = _filed(ledger, projects=1)
    _set_field(settings.database_url, streams[0], "title", "改过的标题")
    server = Library(ledger)  # as a server loads it at start
    ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                stream=UUID(streams[0]))
    server.catch_up()
    assert server.state.projects[streams[0]].title == "改过的标题"
    report = Library(ledger, load=False).check()
    assert [d.key for d in report.differences] == [streams[0]]


def _sqlite_row_not_json(tmp_path: Any) -> tuple[str, str]:
    """A SQLite ledger with one project whose read-model row was edited into text that is not
    JSON (PostgreSQL's ``jsonb`` refuses it): its URL and the project."""
    url = f"sqlite:///{tmp_path}/l.db"
    ledger = Ledger(Settings(database_url=url, environment="test"))
    try:
        ledger.initialise()
        upload_example_documents(ledger)
        ledger.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
        [project] = _filed(ledger, projects=1)
    finally:
        ledger.close()
    run_sql(url, f"UPDATE {{projection_projects}} SET facts = 'not json'"
                 f" WHERE project_id = '{project}'")
    return url, project


def test_a_sqlite_row_that_is_not_json_fails_the_check_and_rebuild_replaces_it(
        tmp_path: Any) -> None:
    url, project = _sqlite_row_not_json(tmp_path)
    code, answer = _check(url)
    assert code == 1
    assert f"project {project} are not a JSON object" in answer["differences"][0]["message"]
    env = {"LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "test"}
    assert CliRunner().invoke(cli_app, ["rebuild"], env=env).exit_code == 0
    assert _check(url)[0] == 0


@pytest.mark.parametrize("value", [None, [], "x", {"project_id": 5}])
def test_facts_of_the_wrong_shape_are_a_difference_not_a_crash(
        ledger: Ledger, settings: Settings, value: Any) -> None:
    streams = _filed(ledger, projects=1)
    url = settings.database_url
    # (run_sql formats the statement: braces doubled)
    text = json.dumps(value).replace("'", "''").replace("{", "{{").replace("}", "}}")
    cast = "" if url.startswith("sqlite") else "::jsonb"
    run_sql(url, f"UPDATE {{projection_projects}} SET facts = '{text}'{cast}"
                 f" WHERE project_id = '{streams[0]}'")
    code, answer = _check(url)
    assert code == 1, answer
    assert answer["differences"]

