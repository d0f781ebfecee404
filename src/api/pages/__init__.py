"""Server-rendered web pages at ``/`` (docs/design.md §6): Jinja2 templates, plain CSS, a little
JS."""

from __future__ import annotations

from api.pages.routes import STATIC_DIR, TEMPLATES_DIR, router

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "router"]
