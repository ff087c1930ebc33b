"""Real receivers for alerts, on 127.0.0.1: an SMTP server and an HTTP webhook sink."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """aiosmtpd on a free port; keeps every message it accepts. `delay` slows each DATA.
    `down()` stops the server (connections are refused) and `up()` starts it on the same port."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[email.message.EmailMessage] = []
        self.delay = delay
        self.data_started = 0
        self.port = free_port()
        self.logins: list[str] = []
        self.controller = self._controller()

    def _controller(self) -> Controller:
        # AUTH over plain text is fine on loopback; real servers require TLS first
        return Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            auth_require_tls=False,
            authenticator=self._authenticate,
        )

    def down(self) -> None:
        if self.controller._thread is not None:  # running (aiosmtpd's own test of it)
            self.controller.stop()

    def up(self) -> None:
        self.controller = self._controller()  # a stopped Controller cannot start again
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append(getattr(auth_data, "login", b"").decode(errors="replace"))
        return AuthResult(success=True)

    async def handle_AUTH(self, server, session, envelope, args):  # noqa: N802 - aiosmtpd's hook name
        """aiosmtpd's own PLAIN or LOGIN exchange (which asks `_authenticate`), then what its
        smtp_AUTH does with the outcome, less one step: setting the deprecated Session.login_data,
        which logs a warning at every login (aiosmtpd 1.4)."""
        outcome = await getattr(server, f"auth_{args[0]}")(server, args)
        if outcome.success:
            session.authenticated, session.auth_data = True, outcome.auth_data
            return outcome.message or "235 2.7.0 Authentication successful"
        if outcome.handled:
            return None  # the exchange has answered the client already
        return outcome.message or "535 5.7.8 Authentication credentials invalid"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.data_started += 1  # a sender is mid-DATA until the message is kept
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def url(self, to: str = "reader@example.com") -> str:
        return (
            f"mailto://user:secretpass@localhost:{self.port}?smtp=127.0.0.1&from=alerts@example.com"
            f"&to={to}&mode=insecure"
        )

    def for_recipient(self, to: str) -> list:
        return [m for m in self.messages if to in str(m["To"])]

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.down()


class QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # a batch of concurrent webhooks must not stall in the listen backlog

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is not news
            super().handle_error(request, client_address)


class HttpSink:
    """Records every request; answers from a script of (status, headers) or 200. `delay` holds
    each answer (the request is recorded once it is up); `arrived` counts requests as they come."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[dict] = []
        self.arrived = 0
        self.responses: list[tuple[int, dict]] = []
        self.delay = 0.0
        self.host = host
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                sink.arrived += 1  # the whole request is here; the sender waits for the answer
                if sink.delay:
                    time.sleep(sink.delay)
                status, headers = sink.responses.pop(0) if sink.responses else (200, {})
                sink.requests.append(
                    {
                        "at": time.time(),
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "status": status,
                    }
                )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = QuietServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str = "/hook", scheme: str = "json") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def json_bodies(self, path: str | None = None) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if path is None or r["path"].startswith(path)]

    def __enter__(self) -> HttpSink:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class HangingSink:
    """A webhook receiver that never answers: it reads the request line and headers, never the
    body, and holds the connection until the test ends. The sender cannot tell what arrived."""

    def __init__(self):
        self.requests: list[float] = []  # when each request's headers arrived
        self.stopping = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                sink.requests.append(time.time())
                sink.stopping.wait(120)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HangingSink:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll until predicate() is truthy; return its value, or the last falsy one at the timeout."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
