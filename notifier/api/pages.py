"""The reader's pages: the live wire with the sign-up box at `/`, the e-mail sign-up form, and
the confirmation link. Everything works without JavaScript except browser push, which needs it.

Form posts carry the CSRF token; a refusal shows the page again with the reason and keeps what
was typed. The confirmation link shows a button: mail scanners follow links, so a GET never
confirms anything (nor does it for unsubscribe links).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from notifier.alerts import signup
from notifier.api.clientip import client_ip
from notifier.api.deps import get_redis
from notifier.api.html import page, wire_items
from notifier.api.safety import check_csrf, rate_limit
from notifier.core import vapid
from notifier.core.refusals import Refused, Throttled
from notifier.settings import get_settings
from notifier.stories import store

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"


def front(request: Request, status: int = 200, error: str | None = None, **typed) -> Response:
    r, settings = get_redis(), get_settings()
    return page(
        request,
        "wire.html",
        status,
        stories=wire_items(r),
        topics=[t.name for t in store.list_topics(r)],
        chosen=typed.get("chosen", []),
        email=typed.get("email", ""),
        error=error,
        mail_ready=bool(settings.mail_url),
        vapid_key=vapid.public_key(r, settings),
    )


@router.get("/", dependencies=[Depends(rate_limit("read"))])
def wire_page(request: Request) -> Response:
    return front(request)


@router.post("/subscribe", dependencies=[Depends(rate_limit("write"))])
def subscribe_form(
    request: Request,
    email: Annotated[str, Form(max_length=254)] = "",
    topics: Annotated[list[str], Form()] = (),
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    topics = list(topics)
    try:
        signup.start_email_signup(get_redis(), get_settings(), email, topics, client_ip(request))
    except Refused as exc:
        status = 429 if isinstance(exc, Throttled) else 503 if isinstance(exc, signup.NotConfigured) else 422
        return front(request, status, str(exc), chosen=topics, email=email)
    text = f"We sent a link to {email}. Follow it and your alerts start; nothing else is sent until then."
    return page(request, "message.html", title="Check your inbox", text=text)


@router.get("/confirm/{token}", dependencies=[Depends(rate_limit("read"))])
def confirm_page(request: Request, token: str) -> Response:
    return page(request, "confirm.html", private=True, token=token)


@router.post("/confirm/{token}", dependencies=[Depends(rate_limit("write"))])
def confirm(request: Request, token: str, csrf: Annotated[str | None, Form()] = None) -> Response:
    check_csrf(request, csrf)
    try:
        manage = signup.confirm_signup(get_redis(), get_settings(), token)
    except store.NotFound as exc:
        return page(request, "message.html", 404, private=True, title="Link not valid", text=str(exc))
    return RedirectResponse(f"/manage/{manage}?done=confirmed", status_code=303)


@router.get("/sw.js")
def service_worker() -> Response:
    """At the root, so its scope is the whole site; never cached, so fixes reach every reader."""
    return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})
