"""A WebSub hub on 127.0.0.1 for tests, speaking the protocol over real HTTP.

    with WebSubHub() as hub:
        hub.url                                   # http://127.0.0.1:PORT/ : put it in a feed
        hub.requests                              # every subscription request (its form, as a dict)
        hub.verifications                         # every intent verification and how it went
        hub.publish(topic, body)                  # POST to every verified callback, signed sha256
        hub.push(callback, body, signature=None)  # one raw POST, signed or not as the test says

A subscription request is answered 202 (or `hub.status`), then verified from another thread
with a GET to the callback carrying a random challenge; only an exact echo makes it active.
`hub.lease_seconds` is the lease granted (None: what the subscriber asked for).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    return f"{method}={hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()}"


class WebSubHub:
    def __init__(self, lease_seconds: int | None = None, status: int = 202):
        self.lease_seconds = lease_seconds
        self.status = status
        self.requests: list[dict] = []
        self.verifications: list[dict] = []
        self.active: dict[str, dict] = {}  # callback -> the verified subscription request
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                hub.requests.append(form)
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if hub.status == 202:  # verified after we answered, as WebSub §5.3 says
                    threading.Thread(target=hub.verify, args=(form,), daemon=True).start()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def verify(self, form: dict, mode: str | None = None, topic: str | None = None) -> dict:
        """The hub's GET to the callback; `mode` and `topic` override the request's."""
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode or form["hub.mode"], "hub.topic": topic or form["hub.topic"]}
        params["hub.challenge"] = challenge
        if params["hub.mode"] == "subscribe":
            params["hub.lease_seconds"] = str(self.lease_seconds or form.get("hub.lease_seconds") or 86400)
        response = httpx.get(form["hub.callback"], params=params, timeout=10)
        outcome = {**params, "status": response.status_code, "echoed": response.text == challenge}
        self.verifications.append(outcome)
        if outcome["echoed"] and response.status_code == 200:
            if params["hub.mode"] == "subscribe":
                self.active[form["hub.callback"]] = form
            else:
                self.active.pop(form["hub.callback"], None)
        return outcome

    def deny(self, form: dict, reason: str = "not allowed") -> int:
        params = {"hub.mode": "denied", "hub.topic": form["hub.topic"], "hub.reason": reason}
        return httpx.get(form["hub.callback"], params=params, timeout=10).status_code

    def publish(self, topic: str, body: bytes, content_type: str = "application/rss+xml") -> list[int]:
        """Content distribution to every active subscriber of `topic`, signed with its secret."""
        return [
            self.push(callback, body, sign(form["hub.secret"], body), content_type, topic)
            for callback, form in list(self.active.items())
            if form["hub.topic"] == topic
        ]

    def push(
        self,
        callback: str,
        body: bytes,
        signature: str | None = None,
        content_type: str = "application/rss+xml",
        topic: str | None = None,
    ) -> int:
        headers = {"Content-Type": content_type}
        if signature:
            headers["X-Hub-Signature"] = signature
        if topic:
            headers["Link"] = f'<{self.url}>; rel="hub", <{topic}>; rel="self"'
        return httpx.post(callback, content=body, headers=headers, timeout=30).status_code

    def __enter__(self) -> WebSubHub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
