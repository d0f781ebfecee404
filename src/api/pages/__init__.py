"""Server-rendered web pages at ``/`` (docs/design.md §6): Jinja2 templates, plain CSS, a little
JS."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import (
    admin,
    apidocs,
    board,
    charts,
    forms,
    importing,
    library,
    logentry,
    report,
    routes,
)
from api.pages.routes import STATIC_DIR, TEMPLATES_DIR

router = APIRouter()
router.include_router(apidocs.router)
router.include_router(library.router)
router.include_router(board.router)
router.include_router(charts.router)
router.include_router(logentry.router)
router.include_router(admin.router)
router.include_router(report.router)
router.include_router(routes.router)
router.include_router(forms.router)
router.include_router(importing.router)  # 项目库导入 (docs/import.md)

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "router"]
