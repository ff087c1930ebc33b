"""Who may use the operator side: a bearer token for the API, a signed cookie for the dashboard.

The operator token is read in one place, `token_digest`: how and where the token is kept (a
setting, the data dir, Redis) is the business of whoever starts the processes, not of the check.
Only the token's SHA-256 is compared (constant time), and the dashboard cookie is an HMAC keyed
with it, so changing the token signs every operator out.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from notifier.core import admin
from notifier.core.db import shared_client
from notifier.settings import get_settings

COOKIE = "operator"
SESSION_SECONDS = 12 * 3600

bearer = HTTPBearer(auto_error=False, description="NOTIFIER_ADMIN_TOKEN", scheme_name="operator token")


def token_digest() -> str:
    """SHA-256 of the operator token (notifier.core.admin keeps it): the one function that reads it."""
    return admin.digest(shared_client(), get_settings())


def is_operator_token(presented: str) -> bool:
    expected = token_digest()
    return bool(expected) and hmac.compare_digest(hashlib.sha256(presented.encode()).hexdigest(), expected)


def require_operator(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """The operator API's gate: `Authorization: Bearer $NOTIFIER_ADMIN_TOKEN`, else 401."""
    if credentials is None or not is_operator_token(credentials.credentials):
        raise HTTPException(
            status_code=401,
            detail="this needs the operator token: Authorization: Bearer $NOTIFIER_ADMIN_TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )


def session_cookie(now: float | None = None) -> str:
    """A dashboard session: when it was issued, and our HMAC of that keyed with the token."""
    issued = str(int(now or time.time()))
    return f"{issued}.{_mac(issued)}"


def is_operator_session(request: Request) -> bool:
    issued, _, mac = (request.cookies.get(COOKIE) or "").partition(".")
    if not issued.isdigit() or time.time() - int(issued) > SESSION_SECONDS:
        return False
    return hmac.compare_digest(_mac(issued), mac)


def _mac(issued: str) -> str:
    return hmac.new(token_digest().encode(), f"dashboard\0{issued}".encode(), hashlib.sha256).hexdigest()
