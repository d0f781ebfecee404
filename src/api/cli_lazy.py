"""How the ``ledger`` command line starts fast and prints plain help.

``ledger --help`` must not import the ledger (its catalogue, crypto and database layers cost
most of half a second): commands defined in other modules are listed from a static table with
their one-line help and imported only when one of them runs (:class:`LazyGroup`). The commands
of ``api.cli`` itself import what they need inside their bodies.

Typer renders every option's Python type in the help (``--json <bool>``,
``--witness-key <list[str]>``, an argument as ``{file}``); :func:`use_plain_help_types` shows a
flag as just its name, an option's value as its metavar (``TEXT``, ``PATH``, ``INTEGER``, a
choice's values) and an argument as its upper-case name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, cast

import typer
from typer import _click as click  # typer's own copy of click, which its commands are made of
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_METAVARS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH",
             "file": "PATH", "directory": "PATH", "bool": "BOOLEAN"}


class LazyCommand(TyperCommand):
    """A placeholder listed in the help; running it imports its module's real command."""

    def __init__(self, name: str, module: str, short_help: str) -> None:
        super().__init__(name, help=short_help, short_help=short_help)
        self.module = module

    def real(self) -> click.Command:
        """The command its module registers (the module is imported now)."""
        found = _load(self.module).get(self.name or "")
        if found is None:
            raise click.ClickException(f"{self.module} does not define `{self.name}`")
        return found

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        """Parse for the real command, so the context that runs is the real one's."""
        return self.real().make_context(info_name, args, parent=parent, **extra)


LAZY: dict[str, tuple[str, str]] = {}
"""Command name → (module with a ``register(app)`` function, one-line help)."""


def lazy_commands(module: str, commands: Mapping[str, str]) -> None:
    """Declare the commands ``module.register(app)`` adds, with their one-line help."""
    for name, short_help in commands.items():
        LAZY[name] = (module, short_help)


def _load(module: str) -> dict[str, click.Command]:
    """The commands ``module.register`` adds to a Typer app of its own."""
    sub = typer.Typer()

    @sub.callback()
    def _group() -> None:  # a callback keeps a one-command app a group
        """Placeholder."""

    importlib.import_module(module).register(sub)
    group = typer.main.get_command(sub)
    return dict(cast(TyperGroup, group).commands)


def loaded(module: str) -> dict[str, click.Command]:
    """The commands a lazily declared module really registers (for the help-table test)."""
    return _load(module)


class LazyGroup(TyperGroup):
    """The root group: its own commands, then the lazily imported ones of :data:`LAZY`."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (module, short_help) in LAZY.items():
            self.commands.setdefault(name, LazyCommand(name, module, short_help))


def use_plain_help_types() -> None:
    """Show options and arguments as operators expect them in ``--help`` (module docstring)."""

    def option_type(self: TyperOption, ctx: click.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar:
            return self.metavar
        label = self.display_type(ctx).strip("<>").removeprefix("list[").removesuffix("]")
        return _METAVARS.get(label, label)

    def argument_type(self: Any, ctx: click.Context) -> str | None:
        return None

    def argument_name(self: TyperArgument) -> str:
        name = (self.metavar or self.name or "").upper()
        suffix = "..." if self.nargs != 1 else ""
        return f"{name}{suffix}" if self.required else f"[{name}]{suffix}"

    def argument_rich_name(self: TyperArgument) -> str:
        return (self.metavar or self.name or "").upper()

    TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign]
    TyperArgument._usage_display_name = argument_name  # type: ignore[method-assign]
    TyperArgument._rich_display_name = argument_rich_name  # type: ignore[method-assign]
