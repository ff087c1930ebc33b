"""What protects the public side: security headers with a strict Content-Security-Policy, CSRF
tokens on form posts, and request-rate limits per client address.

CSP: scripts, styles and connections only from our own origin, no inline code at all (the page's
JavaScript is in /static and /sw.js), no framing. /docs loads Swagger UI from its CDN, so it
gets a policy that allows exactly that.

CSRF: a random token in a SameSite cookie, and the same token in a hidden field of every form
(double submit); a cross-site page can make a browser post a form but can neither read the
cookie nor guess the token. The JSON endpoints need `Content-Type: application/json`, which no
cross-site form can send without a CORS preflight, and we answer no preflight.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware

from notifier.alerts import pacing
from notifier.api.clientip import client_ip
from notifier.api.deps import get_redis

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
CSRF_COOKIE, CSRF_FIELD = "csrf", "csrf"

# Per client address. Reading the wire is cheap and pages poll it; writing may send mail.
RATES = {"read": pacing.Rate(2.0, 120), "write": pacing.Rate(0.2, 20)}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        docs = request.url.path in ("/docs", "/docs/oauth2-redirect", "/redoc")
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a new one when it has none: set it with `keep_csrf_cookie`)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if len(current) == 32 and current.isalnum() else secrets.token_hex(16)


def keep_csrf_cookie(response, token: str, secure: bool) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise HTTPException(
            403, "this form has expired or did not come from our page: reload it and try again"
        )


def rate_limit(group: str):
    """A dependency: at most RATES[group] requests per client address, else 429."""

    def limited(request: Request) -> None:
        who = hashlib.sha256(client_ip(request).encode()).hexdigest()[:16]
        wait = pacing.take(get_redis(), f"rl:http:{group}:{who}", RATES[group])
        if wait > 0:
            seconds = str(max(1, round(wait)))
            raise HTTPException(429, f"too many requests; try again in {seconds} s", {"Retry-After": seconds})

    return limited
