"""Gives each HTTP request an id (the caller's X-Request-ID, or a new one) for its log lines and
its answer, so a line in the logs can be matched to the request that caused it."""

from __future__ import annotations

import re
import uuid

from notifier.core import logs

HEADER = b"x-request-id"
ACCEPTED = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")  # anything else could forge log content


class RequestId:
    """Pure ASGI middleware: no buffering of bodies, nothing changed but one header."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or ()).get(HEADER, b"")
        request_id = given.decode() if ACCEPTED.match(given) else uuid.uuid4().hex
        token = logs.REQUEST_ID.set(request_id)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.REQUEST_ID.reset(token)
