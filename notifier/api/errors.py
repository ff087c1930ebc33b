"""Every error of the JSON API is JSON: `{"error": "one line"}` (and pydantic's `detail` for a
request that failed validation), with the status that says what kind of error it was. The same
errors on a page (a forged manage link, an expired form) are a page saying so."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from notifier.alerts.signup import NotConfigured
from notifier.core.refusals import Conflict, Refused, Throttled
from notifier.stories.store import NotFound

STATUS = ((NotConfigured, 503), (Throttled, 429), (Conflict, 409), (Refused, 422), (NotFound, 404))


def problem(status: int, message: str, headers: dict | None = None, detail=None) -> JSONResponse:
    body = {"error": message} | ({"detail": detail} if detail is not None else {})
    return JSONResponse(body, status_code=status, headers=headers)


def answer(request: Request, status: int, message: str, headers: dict | None = None, detail=None):
    if request.url.path.startswith("/api/") or request.url.path.startswith("/dashboard/status"):
        return problem(status, message, headers, detail)
    from notifier.api.html import page

    title = {404: "Not found", 403: "Form expired", 429: "Slow down"}.get(status, "That did not work")
    response = page(request, "message.html", status, private=True, title=title, text=message)
    response.headers.update(headers or {})
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return answer(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        return answer(request, 422, f"{where}: {first['msg']}" if where else first["msg"], detail=errors)

    for kind, status in STATUS:
        app.add_exception_handler(kind, _domain_handler(status))


def _domain_handler(status: int):
    async def handler(request: Request, exc: Exception):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, Throttled) else None
        return answer(request, status, str(exc), headers)

    return handler
