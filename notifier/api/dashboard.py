"""The operator's dashboard: feeds and their health, deliveries by state, queue depths, what
waits and what keeps failing, refreshed without a reload. The operator signs in once with the
operator token; the browser then holds a signed cookie (HttpOnly, SameSite=Strict) for 12 h."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from notifier.alerts import overview
from notifier.api import auth
from notifier.api.deps import get_redis
from notifier.api.html import page
from notifier.api.safety import check_csrf, rate_limit
from notifier.core import db
from notifier.settings import get_settings

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def health(feed: dict) -> str:
    if not feed["enabled"]:
        return "disabled"
    return "failing" if feed["errors"] else "ok" if feed["last_success"] else "waiting"


def status_data() -> dict:
    status = overview.gather_status(get_redis(), db.broker_url(get_settings()))
    for feed in status["feeds"]:
        feed["health"] = health(feed)
    return status


@router.get("")
def dashboard(request: Request) -> Response:
    if not auth.is_operator_session(request):
        return page(request, "login.html", private=True, error=None)
    return page(request, "dashboard.html", private=True, figures=status_data())


@router.get("/status.json")
def dashboard_status(request: Request) -> dict:
    if not auth.is_operator_session(request):
        raise HTTPException(401, "sign in on /dashboard first")
    return status_data()


@router.post("/login", dependencies=[Depends(rate_limit("write"))])
def login(
    request: Request,
    token: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str | None, Form()] = None,
):
    check_csrf(request, csrf)
    if not auth.is_operator_token(token.strip()):
        return page(request, "login.html", 401, private=True, error="That is not the operator token.")
    response = RedirectResponse("/dashboard", status_code=303)
    secure = get_settings().base_url.startswith("https://")
    response.set_cookie(
        auth.COOKIE,
        auth.session_cookie(),
        max_age=auth.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/dashboard",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/dashboard")
    return response
