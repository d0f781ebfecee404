"""The map of the code in docs/design.md stays true: imports point one way, and never in a circle.

Every ``import`` in ``src/`` counts, including those inside functions and under
``TYPE_CHECKING``: a circle that only a lazy import hides is still a circle for the reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
OURS = ("ledger", "projections", "api", "witness")

# Which layers each layer may import (besides itself). A layer is a sub-package of ``ledger``, one
# of its top-level modules, or one of the other top-level packages.
_BASE = {"ledger.errors"}
ALLOWED: dict[str, set[str]] = {
    "ledger.errors": set(),
    "ledger.settings": _BASE,
    "ledger.crypto": _BASE,
    "ledger.log": _BASE | {"ledger.crypto"},
    "ledger.measures": _BASE | {"ledger.crypto", "ledger.log"},
    "ledger.store": _BASE | {"ledger.crypto", "ledger.log"},
    "ledger.evidence": _BASE | {"ledger.crypto", "ledger.log", "ledger.measures"},
    "ledger.service": _BASE | {"ledger.settings", "ledger.crypto", "ledger.log", "ledger.measures",
                               "ledger.store", "ledger.evidence"},
    "ledger.app": _BASE | {"ledger.settings", "ledger.crypto", "ledger.log", "ledger.measures",
                           "ledger.store", "ledger.evidence", "ledger.service"},
    "ledger.demo": _BASE | {"ledger.settings", "ledger.crypto", "ledger.log", "ledger.measures",
                            "ledger.store", "ledger.evidence", "ledger.service", "ledger.app"},
    "ledger": set(),
    "projections": {"ledger"},
    # The Audit Branch's witness runs on its own machine with its own state: of the ledger it
    # knows only the errors, the crypto suites and the log's formats (never storage or service).
    "witness": _BASE | {"ledger.crypto", "ledger.log"},
    "api": {"ledger", "projections", "witness"},
}

# Outside code that marks a layer as storage or web: the domain and integrity layers stay free
# of it.
STORAGE = ("sqlite3", "psycopg", "psycopg_pool", "eventsourcing.sqlite", "eventsourcing.postgres")
WEB = ("fastapi", "starlette", "uvicorn", "jinja2", "httpx", "typer", "rich")
PURE_LAYERS = ("ledger.errors", "ledger.crypto", "ledger.log", "ledger.measures", "ledger.evidence")


def module_name(path: Path) -> str:
    """``src/ledger/log/merkle.py`` → ``ledger.log.merkle``; a package's ``__init__`` is itself."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer a module belongs to (see :data:`ALLOWED`)."""
    parts = module.split(".")
    if parts[0] != "ledger":
        return parts[0]
    return ".".join(parts[:2])


def permits(layer: str, target: str) -> bool:
    """Whether ``layer`` may import from ``target`` (``"ledger"`` in the table covers all of it)."""
    return target == layer or any(target == allowed or target.startswith(allowed + ".")
                                  for allowed in ALLOWED[layer])


def imports_of(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, absolute, wherever the statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            # ``from ledger.log import merkle`` imports the module ledger.log.merkle.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if (SRC / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                        SRC / Path(*candidate.split(".")) / "__init__.py").exists():
                    yield candidate


def graph() -> dict[str, set[str]]:
    """Module → the modules of ours it imports."""
    result: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).parts[0] not in OURS:
            continue
        result[module_name(path)] = set(imports_of(path))
    return result


GRAPH = graph()


def test_the_graph_covers_the_code() -> None:
    assert "ledger.log.merkle" in GRAPH
    assert "ledger.app" in GRAPH
    assert "ledger.log.merkle" in GRAPH["ledger.log.verify_tree"]


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    layer = layer_of(module)
    assert layer in ALLOWED, f"{module} is in no layer of the map (docs/design.md, map of the code)"
    upward = sorted(
        f"{module} imports {target}"
        for target in GRAPH[module]
        if target.split(".")[0] in OURS and not permits(layer, layer_of(target))
    )
    assert not upward, "imports against the map of the code: " + "; ".join(upward)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer_of(m) in PURE_LAYERS))
def test_domain_and_integrity_need_no_storage_or_web(module: str) -> None:
    outside = sorted(t for t in GRAPH[module] if t.startswith(STORAGE + WEB))
    assert not outside, f"{module} imports storage or web code: {outside}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in edges.get(node, ()):
            if succ not in edges:
                continue
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    # A package's __init__ importing its own modules is not a circle for this purpose.
    edges = {m: {t for t in ts if not m.startswith(t + ".") and t in GRAPH}
             for m, ts in GRAPH.items()}
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


# Of ``ledger.log``, the witness may use the formats, not the storage port or the append path.
WITNESS_FORBIDDEN = ("ledger.log.store", "ledger.log.writer", "ledger.log.sealing",
                     "ledger.store", "ledger.service", "ledger.app", "eventsourcing", "psycopg")


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer_of(m) == "witness"))
def test_the_witness_knows_only_the_log_formats(module: str) -> None:
    outside = sorted(t for t in GRAPH[module] if t.startswith(WITNESS_FORBIDDEN))
    assert not outside, f"{module} imports the ledger's storage or service: {outside}"


def test_the_witness_runs_without_the_ledger_storage() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = ("import sys, witness.cli, witness.app; bad = [m for m in sys.modules if"
            " m.startswith(('ledger.store', 'ledger.service', 'ledger.app', 'eventsourcing',"
            " 'psycopg'))]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_would_be_caught() -> None:
    assert "ledger.store" not in ALLOWED["ledger.measures"]
    assert layer_of("ledger.store.sqlite") == "ledger.store"
    assert not permits("ledger.evidence", "ledger.app")
    assert not permits("ledger.log", "ledger.measures")
    assert permits("api", "ledger.store")
