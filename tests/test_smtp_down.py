"""An SMTP server that is down is "provider down" (DeliveryError.unavailable), on both ways e-mail
leaves: the pooled sender (a plain mailto://) and Apprise (a mailto:// with cc=). Down: the port
refuses connections, the server never greets, or it answers 421 (or another 4xx) at the greeting
or EHLO/HELO, or 421 later. A 5xx stays a failed attempt (or permanent, for a mailbox or login
that can never work). The servers are real sockets on 127.0.0.1 speaking a scripted SMTP."""

from __future__ import annotations

import socketserver
import threading

import pytest

from notifier.alerts import sending
from notifier.alerts.channels import smtp
from notifier.alerts.channels.pooled import Job, send_batch
from notifier.alerts.channels.via_apprise import send_via_apprise
from notifier.alerts.render import render_for
from notifier.settings import Settings
from tests.sinks import free_port

STORY = {
    "id": "s1",
    "title": "Quake hits the coast",
    "link": "https://news.example.com/q",
    "summary": "A quake.",
}
OK = {"EHLO": "250 scripted", "HELO": "250 scripted", "MAIL": "250 ok", "RCPT": "250 ok", "DATA": "354 go"}


@pytest.fixture(autouse=True)
def _fresh_smtp_pool():
    yield
    smtp.close_all()


class ScriptedSmtp(socketserver.ThreadingTCPServer):
    """Greets with `greeting` (None: never says a word) and answers each command from `replies`."""

    daemon_threads = allow_reuse_address = True

    def __init__(self, greeting: str | None, **replies: str):
        self.greeting, self.replies, self.stopping = greeting, OK | replies, threading.Event()
        super().__init__(("127.0.0.1", 0), Conversation)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, cc: bool = False) -> str:
        port = self.server_address[1]
        extra = "&cc=desk@example.com" if cc else ""
        return f"mailto://localhost:{port}?smtp=127.0.0.1&from=a@example.com&to=r@example.com&mode=insecure{extra}"

    def __enter__(self) -> ScriptedSmtp:
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class Conversation(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        if self.server.greeting is None:
            self.server.stopping.wait(30)  # connected, never greeted: the sender's timeout decides
            return
        self.say(self.server.greeting)
        for line in self.rfile:
            verb = line.decode(errors="replace").split(" ")[0].strip().upper()
            if verb == "QUIT":
                self.say("221 bye")
                return
            reply = self.server.replies.get(verb, "502 not here")
            self.say(reply)
            if verb == "DATA" and reply.startswith("354"):
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                self.say("250 kept")
            if reply.startswith("421"):
                return  # closing the channel, as 421 says

    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")


def pooled(url: str, timeout: float = 15.0):
    [error] = send_batch([Job(url, "t", "b", None, {})], allow_private=True, timeout=timeout)
    return error


def via_apprise(url: str):
    return sending.watched(lambda: send_via_apprise(url, render_for(url, STORY, [], Settings()), True))


def refused_url(cc: bool = False) -> str:
    extra = "&cc=desk@example.com" if cc else ""
    return f"mailto://localhost:{free_port()}?smtp=127.0.0.1&from=a@example.com&to=r@example.com&mode=insecure{extra}"


def test_a_refused_connection_is_the_provider_down_on_both_paths():
    for error in (pooled(refused_url()), via_apprise(refused_url(cc=True))):
        assert error is not None and error.unavailable and not error.permanent, error


def test_a_server_that_never_greets_is_down_when_the_send_times_out():
    with ScriptedSmtp(None) as server:
        error = pooled(server.url(), timeout=1)
    assert error.unavailable and "timed out" in str(error), error


@pytest.mark.parametrize(
    ("greeting", "replies"),
    [
        ("421 too busy, try later", {}),
        ("450 not now", {}),
        ("220 hello", {"EHLO": "421 going down", "HELO": "421 going down"}),
        ("220 hello", {"EHLO": "451 local problem", "HELO": "451 local problem"}),
        ("220 hello", {"MAIL": "421 shutting down"}),
    ],
)
def test_a_transient_reply_at_the_greeting_or_helo_or_a_421_later_is_the_provider_down(greeting, replies):
    with ScriptedSmtp(greeting, **replies) as server:
        for error in (pooled(server.url()), via_apprise(server.url(cc=True))):
            assert error is not None and error.unavailable and not error.permanent, error


@pytest.mark.parametrize(
    ("greeting", "replies", "permanent"),
    [
        ("554 no SMTP service here", {}, False),
        ("220 hello", {"EHLO": "550 go away", "HELO": "550 go away"}, False),
        ("220 hello", {"MAIL": "451 try that one later"}, False),  # about this message, not the server
        ("220 hello", {"RCPT": "550 no such mailbox"}, True),
    ],
)
def test_a_refusal_stays_a_failed_attempt_or_a_permanent_one(greeting, replies, permanent):
    with ScriptedSmtp(greeting, **replies) as server:
        for error in (pooled(server.url()), via_apprise(server.url(cc=True))):
            assert error is not None and not error.unavailable and error.permanent == permanent, error


def test_the_server_answering_again_sends_on_both_paths():
    with ScriptedSmtp("220 hello") as server:
        assert pooled(server.url()) is None
        assert via_apprise(server.url(cc=True)) is None
