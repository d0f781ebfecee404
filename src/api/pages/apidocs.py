"""The interactive API documentation, served whole from the package: Swagger UI at ``/docs``
and ReDoc at ``/redoc``, with their scripts and styles vendored under ``static/vendor/``
(see ``static/vendor/README.md`` for the versions, sources and licences). Government intranets
are isolated, so no page may load anything from another host: FastAPI's own docs pages load
their assets from a CDN and are switched off in :func:`api.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

VENDOR = "/static/vendor"
SWAGGER_JS = f"{VENDOR}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui/swagger-ui.css"
FAVICON = f"{VENDOR}/swagger-ui/favicon-32x32.png"
REDOC_JS = f"{VENDOR}/redoc/redoc.standalone.js"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

# The documentation pages run the vendored scripts (Swagger UI starts from an inline script and
# ReDoc builds its page in a web worker) but reach no other host.
_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self' 'unsafe-inline';"
                                " style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
                                " worker-src 'self' blob:; connect-src 'self';"
                                " font-src 'self' data:; object-src 'none'; base-uri 'none';"
                                " frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _title(request: Request) -> str:
    return str(request.app.title)


def _openapi_url(request: Request) -> str:
    return str(request.app.openapi_url or "/openapi.json")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, every asset from this server."""
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request), title=f"{_title(request)} — Swagger UI",
        swagger_js_url=SWAGGER_JS, swagger_css_url=SWAGGER_CSS, swagger_favicon_url=FAVICON,
        oauth2_redirect_url=OAUTH2_REDIRECT,
        # validatorUrl: no badge fetched from the public validator.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False})
    page.headers.update(_HEADERS)
    return page


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (kept for completeness: the API uses bearer tokens)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``, every asset from this server (no web fonts)."""
    page = get_redoc_html(openapi_url=_openapi_url(request), title=f"{_title(request)} — ReDoc",
                          redoc_js_url=REDOC_JS, redoc_favicon_url=FAVICON,
                          with_google_fonts=False)
    page.headers.update(_HEADERS)
    return page
