"""The web console and landing page: server-rendered pages, and every file they load shipped in the package.

No page asks any host but this service for anything: the CSS, the script and
the API docs' Swagger UI are served from `static/`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from delivery.console.pages import HANDLERS
from delivery.console.session import provide_console
from delivery.errors import ConsoleSignInRequired, ServiceError, public_error
from generation import GenerationError

__all__ = ["STATIC_PREFIX", "TEMPLATES", "console_router", "schema_page", "static_router"]

_HERE = Path(__file__).parent
STATIC_PREFIX = "/static"
_SWAGGER = f"{STATIC_PREFIX}/vendor/swagger-ui"

TEMPLATES = TemplateConfig(directory=_HERE / "templates", engine=JinjaTemplateEngine)

static_router = create_static_files_router(
    path=STATIC_PREFIX,
    directories=[_HERE / "static"],
    include_in_schema=False,
    # Names are not versioned, so a day's caching, not forever.
    cache_control=None,
    opt={"console": True},
)

schema_page = SwaggerRenderPlugin(
    js_url=f"{_SWAGGER}/swagger-ui-bundle.js",
    css_url=f"{_SWAGGER}/swagger-ui.css",
    standalone_preset_js_url=f"{_SWAGGER}/swagger-ui-standalone-preset.js",
    favicon=f"<link rel='icon' type='image/png' href='{_SWAGGER}/favicon-32x32.png'>",
    path="/",
)
"""`/schema` renders Swagger UI from the files shipped here, not a CDN."""


def _sign_in(request: Request, exc: ConsoleSignInRequired) -> Response[Any]:
    if request.method == "GET":  # a browser: to the page that says how to get a sign-in link
        return Redirect("/console/signin", status_code=303, headers={"Cache-Control": "no-store"})
    return Response(escape(exc.message), status_code=401, media_type="text/plain", headers={"Cache-Control": "no-store"})


def _error(request: Request, exc: ServiceError | GenerationError) -> Response[Any]:
    """Console errors as a page (or plain text for the upload script), with the same status and message as `/v1`."""
    public = public_error(exc)
    if "text/html" not in request.headers.get("accept", ""):
        return Response(public.message, status_code=public.status, media_type="text/plain", headers={"Cache-Control": "no-store"})
    context = {"console": None, "path": request.url.path, "status": public.status, "title": public.title, "message": public.message}
    return Template(template_name="error.html", context=context, status_code=public.status)


console_router = Router(
    path="/",
    route_handlers=HANDLERS,
    dependencies={"console": Provide(provide_console)},
    exception_handlers={ConsoleSignInRequired: _sign_in, ServiceError: _error, GenerationError: _error},
    # Pages show one organisation's data: no shared cache may keep them.
    response_headers=[ResponseHeader(name="Cache-Control", value="private, no-store")],
    include_in_schema=False,
)
