"""fastpath: pooled webhooks and e-mail that look, to the receiver, exactly like Apprise's sends.

Every send goes to a real local sink (tests/sinks.py); every "what Apprise would send" is a real
Apprise send to the same sink in the same test. The SMTP sinks below differ from SmtpSink only in
what a real server may do: note each client connection, close the connection after each message,
refuse a recipient, echo the password in a refusal, or speak TLS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
import subprocess
from pathlib import Path

import apprise
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from notifier.alerts.channels import smtp
from notifier.alerts.channels.pooled import Job, send_batch, supports
from notifier.alerts.render import Links, render_for
from notifier.core.netguard import is_public_address
from notifier.settings import Settings
from tests.sinks import HttpSink, SmtpSink, free_port, wait_for

STORY = {
    "id": "s1",
    "title": "Quake hits the coast",
    "link": "https://news.example.com/quake?id=1&src=rss",
    "summary": "A strong earthquake struck.\nNo tsunami warning was issued.",
    "source": "Example News",
}
UNSUBSCRIBE = Links(unsubscribe_url="https://alerts.example.com/unsubscribe/abc123")
PASSWORD = "secretpass"  # SmtpSink.url's password


def loopback_one_or_public(ip) -> bool:
    """A policy for guard tests: the local sinks, and the public internet, nothing else."""
    return ip == ipaddress.ip_address("127.0.0.1") or is_public_address(ip)


@pytest.fixture(autouse=True)
def _fresh_smtp_pool():
    yield
    smtp.close_all()  # each test's sink is gone with the test


def apprise_send(url: str, job: Job) -> bool:
    sender = apprise.Apprise()
    sender.add(url)
    return bool(sender.notify(title=job.title, body=job.body, body_format=job.body_format))


# --- which URLs the fast path takes -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8000/hook",
        "jsons://user:pass@hooks.example.com/a/b?+X-Key=1&-q=2&:type=kind&method=put",
        "mailto://user:pw@localhost:2525?smtp=127.0.0.1&from=alerts@example.com&to=r@example.com",
        "mailtos://user:pw@example.com?to=r@example.com&mode=ssl&+List-Unsubscribe=%3Chttps%3A%2F%2Fx%3E",
    ],
)
def test_plain_json_and_mailto_urls_take_the_fast_path(url):
    assert supports(url)


@pytest.mark.parametrize(
    "url",
    [
        "xml://127.0.0.1:8000/hook",
        "form://127.0.0.1:8000/hook",
        "ntfy://127.0.0.1/alerts",
        "json://user@127.0.0.1/hook",  # requests would send the password "None"
        "json://127.0.0.1/hook?overflow=split",
        "json://127.0.0.1/hook?emojis=yes",
        "mailto://u:p@example.com?to=a@example.com,b@example.com",
        "mailto://u:p@example.com?to=a@example.com&cc=c@example.com",
        "mailto://u:p@example.com?to=a@example.com&bcc=c@example.com",
        "mailto://u:p@example.com?to=a@example.com&pgp=sign",
        "mailto://u:p@example.com?to=a@example.com&+Subject=spoofed",
        "not a url",
    ],
)
def test_urls_with_features_the_fast_path_does_not_reproduce_are_left_to_apprise(url):
    assert not supports(url)


# --- webhooks ------------------------------------------------------------------------------------


def test_a_batch_of_200_webhooks_arrives_exactly_as_apprise_sends_one():
    with HttpSink() as sink:
        rendered = render_for(sink.url("/hook"), STORY, ["quakes"], Settings())
        sample = Job.for_rendered(rendered, sink.url("/hook"))
        assert apprise_send(sink.url("/apprise"), sample)
        jobs = [Job(sink.url("/hook"), f"{sample.title} {i}", sample.body, None, {}) for i in range(200)]
        assert send_batch(jobs, allow_private=True) == [None] * 200
        theirs, ours = sink.requests[0], sink.requests[1:]
    assert len(ours) == 200
    expected = json.loads(theirs["body"])
    assert sorted(json.loads(r["body"])["title"] for r in ours) == sorted(job.title for job in jobs)
    for request in ours:
        assert json.loads(request["body"]) == expected | {"title": json.loads(request["body"])["title"]}
        assert request["path"] == "/hook"
        assert without_transport(request["headers"]) == without_transport(theirs["headers"])


def without_transport(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k not in ("Connection", "Content-Length")}


def test_basic_auth_custom_headers_query_method_and_payload_remaps_pass_through_as_with_apprise():
    with HttpSink() as sink:
        headers, query = "+X-Api-Key=k3y&+User-Agent=ours", "-topic=world news&method=put"
        remaps = ":type=&:message=text&:source=us&:version=version"  # drop, rename, add, drop
        url = f"json://ann:pa55word@127.0.0.1:{sink.port}/hook?{headers}&{query}&{remaps}"
        job = Job(url, "Title é", "Body  \n", "text", {})
        assert apprise_send(job.url, job)
        assert send_batch([job], allow_private=True) == [None]
        theirs, ours = sink.requests
    assert ours["body"] == theirs["body"]  # byte for byte: the same json.dumps of the same payload
    assert json.loads(ours["body"]) == {
        "title": "Title é",
        "text": "Body",
        "attachments": [],
        "source": "us",
    }
    assert ours["path"] == theirs["path"] == "/hook?topic=world+news"
    assert without_transport(ours["headers"]) == without_transport(theirs["headers"])
    assert ours["headers"]["Authorization"] == "Basic YW5uOnBhNTV3b3Jk"
    assert ours["headers"]["X-Api-Key"] == "k3y" and ours["headers"]["User-Agent"] == "ours"


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_a_revoked_or_deleted_webhook_is_a_permanent_failure(status):
    with HttpSink() as sink:
        sink.responses = [(status, {})]
        [error] = send_batch([Job(sink.url(), "t", "b", None, {})], allow_private=True)
    assert error.permanent and error.retry_after is None
    assert str(error) == f"http {status} from json://127.0.0.1"


@pytest.mark.parametrize(
    ("status", "header", "wait"),
    [(429, "7", 7.0), (503, "120", 120.0), (429, "Fri, 31 Dec 2100 23:59:59 GMT", 24 * 3600.0)],
)
def test_a_service_asking_us_to_slow_down_says_for_how_long_capped_at_a_day(status, header, wait):
    with HttpSink() as sink:
        sink.responses = [(status, {"Retry-After": header})]
        [error] = send_batch([Job(sink.url(), "t", "b", None, {})], allow_private=True)
    assert not error.permanent and error.retry_after == wait


def test_a_server_error_is_a_transient_failure_without_a_wait():
    with HttpSink() as sink:
        sink.responses = [(500, {})]
        [error] = send_batch([Job(sink.url(), "t", "b", None, {})], allow_private=True)
    assert (
        not error.permanent and error.retry_after is None and str(error) == "http 500 from json://127.0.0.1"
    )


def test_the_guard_refuses_a_loopback_webhook_unless_private_hosts_are_allowed():
    with HttpSink() as sink:
        [error] = send_batch([Job(sink.url(), "t", "b", None, {})], allow_private=False)
        assert error.permanent and "127.0.0.1 is a loopback address" in str(error)
        assert send_batch([Job(sink.url(), "t", "b", None, {})], allow_private=True) == [None]
        assert len(sink.requests) == 1


def test_the_guard_refuses_a_loopback_webhook_by_name_too():
    with HttpSink() as sink:
        url = f"json://localhost:{sink.port}/hook"
        [error] = send_batch([Job(url, "t", "b", None, {})], allow_private=False)
    assert error.permanent and "localhost resolves to" in str(error) and not sink.requests


def test_a_redirect_to_the_cloud_metadata_address_is_refused():
    with HttpSink() as sink:
        sink.responses = [(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]
        job = Job(sink.url("/hook"), "t", "b", None, {})
        [error] = send_batch([job], allow_private=False, policy=loopback_one_or_public)
    assert error.permanent and "169.254.169.254 is a link-local address" in str(error)
    assert len(sink.requests) == 1


def test_a_temporary_redirect_is_followed_with_the_same_method_and_body():
    with HttpSink() as sink:
        sink.responses = [(307, {"Location": "/moved"})]
        job = Job(sink.url("/hook"), "t", "b", None, {})
        assert send_batch([job], allow_private=False, policy=loopback_one_or_public) == [None]
    first, second = sink.requests
    assert second["path"] == "/moved" and second["body"] == first["body"]


def test_a_redirect_to_something_that_is_no_url_fails_only_that_job():
    with HttpSink() as bad, HttpSink() as good:
        bad.responses = [(302, {"Location": "http://[::1"})]
        jobs = [Job(bad.url(), "t", "b", None, {}), Job(good.url(), "t", "b", None, {})]
        error, sent = send_batch(jobs, allow_private=True)
    assert sent is None and not error.permanent and str(error).startswith("cannot send to json://127.0.0.1")


def test_a_failed_job_does_not_stop_the_rest_of_its_batch_and_results_keep_their_order():
    with HttpSink() as good, HttpSink() as gone, SmtpSink() as mail:
        gone.responses = [(404, {})]
        jobs = [
            Job(good.url("/a"), "t", "b", None, {}),
            Job(gone.url("/b"), "t", "b", None, {}),
            Job("xml://127.0.0.1/hook", "t", "b", None, {}),
            Job(mail.url(), "Subject", "<p>Hi</p>", "html", {}),
            Job(f"json://127.0.0.1:{free_port()}/closed", "t", "b", None, {}),
        ]
        sent, deleted, unsupported, mailed, closed = send_batch(jobs, allow_private=True, timeout=5)
        assert wait_for(lambda: len(mail.messages) == 1)
    assert sent is None and mailed is None and len(good.requests) == 1
    assert deleted.permanent and not unsupported.permanent and "through Apprise" in str(unsupported)
    assert not closed.permanent and str(closed).startswith("cannot talk to json://127.0.0.1")


# --- e-mail ----------------------------------------------------------------------------------


class CountingSink(SmtpSink):
    """Notes the client address and port of each message: one pair per connection."""

    def __init__(self, password: str = PASSWORD):
        super().__init__()
        self.peers: list = []
        self.password = password

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)

    def __exit__(self, *exc) -> None:
        smtp.close_all()  # hang up first: aiosmtpd leaves a TLS connection open when it stops
        super().__exit__(*exc)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        super()._authenticate(server, session, envelope, mechanism, auth_data)
        if auth_data.password.decode() == self.password:
            return AuthResult(success=True)
        # a careless server quoting the credentials back
        return AuthResult(
            success=False, handled=False, message=f"535 bad password {auth_data.password.decode()}"
        )


class DroppingSink(CountingSink):
    """Hangs up right after answering each message, as servers with short idle limits do."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        status = await super().handle_DATA(server, session, envelope)
        asyncio.get_running_loop().call_soon(server.transport.close)  # after the 250 is written
        return status


class RefusingSink(CountingSink):
    """Refuses recipients named `nobody…` with the code in `refusal`."""

    def __init__(self, refusal: str):
        super().__init__()
        self.refusal = refusal

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("nobody"):
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"


def email_job(sink: SmtpSink, to: str = "reader@example.com", title: str = STORY["title"]) -> Job:
    rendered = render_for(sink.url(to), STORY | {"title": title}, ["quakes"], Settings(), UNSUBSCRIBE)
    return Job.for_rendered(rendered, sink.url(to))


def test_fifty_emails_share_one_logged_in_connection_and_each_has_html_text_and_unsubscribe_headers():
    with CountingSink() as sink:
        jobs = [
            email_job(sink, f"reader{i}@example.com", f"Quake {i}\r\nBcc: victim@example.com")
            for i in range(50)
        ]
        assert send_batch(jobs, allow_private=True) == [None] * 50
        assert wait_for(lambda: len(sink.messages) == 50)
    assert len(set(sink.peers)) == 1 and sink.logins == ["user"]
    for i, message in enumerate(sink.messages):
        assert message["Subject"] == f"Quake {i} Bcc: victim@example.com" and message["Bcc"] is None
        assert message["To"] == f"reader{i}@example.com" and message["From"] == "alerts@example.com"
        assert message["List-Unsubscribe"] == "<https://alerts.example.com/unsubscribe/abc123>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        plain, html = message.get_payload()
        assert plain.get_content_type() == "text/plain" and "Read the story" in plain.get_content()
        assert html.get_content_type() == "text/html" and "<h2" in html.get_content()


def test_an_email_has_the_same_headers_and_parts_as_apprise_sends():
    with CountingSink() as sink:
        to = "reader@example.com"
        rendered = render_for(
            sink.url(to), STORY | {"title": "Séisme sur la côte"}, ["quakes"], Settings(), UNSUBSCRIBE
        )
        job = Job.for_rendered(rendered, sink.url(to))
        assert apprise_send(rendered.url_for_apprise, job)  # Apprise carries the headers in the URL
        assert send_batch([job], allow_private=True) == [None]
        assert wait_for(lambda: len(sink.messages) == 2)
    theirs, ours = sink.messages
    assert ours.keys() == theirs.keys()
    for name in ours.keys():
        if name not in ("Message-ID", "Date", "Content-Type"):  # unique ids, the clock, the boundary
            assert ours[name] == theirs[name], name
    assert [p.get_content_type() for p in ours.walk()] == [p.get_content_type() for p in theirs.walk()]
    assert [p.get_content() for p in ours.get_payload()] == [p.get_content() for p in theirs.get_payload()]


def test_a_text_email_is_a_single_plain_part():
    with CountingSink() as sink:
        assert send_batch([Job(sink.url(), "Hello", "Just text", "text", {})], allow_private=True) == [None]
        assert wait_for(lambda: len(sink.messages) == 1)
    [message] = sink.messages
    assert message.get_content_type() == "text/plain" and message.get_content().strip() == "Just text"


def test_a_server_that_hangs_up_after_each_message_gets_a_new_connection_for_the_next():
    with DroppingSink() as sink:
        jobs = [email_job(sink, f"reader{i}@example.com") for i in range(5)]
        assert send_batch(jobs, allow_private=True) == [None] * 5
        assert send_batch(jobs[:1], allow_private=True) == [None]  # the next batch too
        assert wait_for(lambda: len(sink.messages) == 6)
    assert len(set(sink.peers)) == 6


def test_a_connection_idle_too_long_is_checked_with_noop_and_replaced_when_gone(monkeypatch):
    monkeypatch.setattr(smtp, "IDLE_CHECK", 0.0)  # every reuse counts as idle
    with CountingSink() as steady, DroppingSink() as dropping:
        assert send_batch([email_job(steady)] * 3, allow_private=True) == [None] * 3
        assert send_batch([email_job(dropping)] * 3, allow_private=True) == [None] * 3
        assert wait_for(lambda: len(steady.messages) == 3 and len(dropping.messages) == 3)
    assert len(set(steady.peers)) == 1 and len(set(dropping.peers)) == 3


def test_a_thread_keeps_only_its_most_recently_used_connections(monkeypatch):
    monkeypatch.setattr(smtp, "MAX_POOLED", 2)
    with CountingSink() as sink:
        ann, bob, cid = (Job(sink.url().replace("user:", f"{name}:"), "t", "b", "text", {}) for name in "abc")
        assert send_batch([ann, bob, cid, cid, ann], allow_private=True) == [None] * 5
        assert wait_for(lambda: len(sink.messages) == 5)
    first_ann, _, first_cid, second_cid, second_ann = sink.peers
    assert second_cid == first_cid and second_ann != first_ann  # ann's was the oldest of three


@pytest.mark.parametrize(
    ("refusal", "permanent"),
    [
        ("550 5.1.1 no such user", True),
        ("551 5.1.6 user not local", True),
        ("553 5.1.3 bad address syntax", True),
        ("450 4.2.1 mailbox busy, try later", False),
        ("452 4.2.2 mailbox full", False),
    ],
)
def test_a_refused_recipient_is_permanent_only_for_a_5xx_address_refusal(refusal, permanent):
    with RefusingSink(refusal) as sink:
        refused, sent = send_batch(
            [email_job(sink, "nobody@example.com"), email_job(sink)], allow_private=True
        )
        assert wait_for(lambda: len(sink.messages) == 1)
    assert (
        refused.permanent is permanent
        and str(refused) == f"mailto://localhost refused the recipient: smtp {refusal[:3]} ({refusal[4:]})"
    )
    assert sent is None and sink.messages[0]["To"] == "reader@example.com"


def test_the_password_never_appears_in_an_error():
    with CountingSink(password="the-right-one") as refusing:
        [wrong_login] = send_batch([email_job(refusing)], allow_private=True)
    with RefusingSink("550 5.1.1 no such user") as sink:
        [refused] = send_batch([email_job(sink, "nobody@example.com")], allow_private=True)
    [unreachable] = send_batch([email_job(sink)], allow_private=True, timeout=2)  # the sink has stopped
    assert (
        wrong_login.permanent
        and str(wrong_login) == "mailto://localhost answered smtp 535 (bad password ***)"
    )
    for error in (wrong_login, refused, unreachable):
        assert PASSWORD not in str(error) and PASSWORD not in repr(error.args)


def test_the_guard_refuses_an_smtp_server_on_a_private_address():
    with CountingSink() as sink:
        [error] = send_batch([email_job(sink)], allow_private=False)
    assert error.permanent and "127.0.0.1 is a loopback address" in str(error) and not sink.peers


# --- e-mail over TLS -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, made with the openssl tool."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
    ]
    subprocess.run([*command, "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class TlsSink(CountingSink):
    """Implicit TLS (mode=ssl) or STARTTLS, with the self-signed certificate."""

    def __init__(self, certificate: tuple[Path, Path], mode: str):
        super().__init__()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        self.controller.loop.close()  # SmtpSink's plain controller, replaced here
        # aiosmtpd counts only STARTTLS as TLS when it decides to offer AUTH; implicit TLS says so itself
        implicit = {"ssl_context": context, "auth_require_tls": False}
        tls = implicit if mode == "ssl" else {"tls_context": context, "require_starttls": True}
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, authenticator=self._authenticate, **tls
        )
        self.mode = mode

    def url(self, to: str = "reader@example.com") -> str:
        return f"mailtos://user:{PASSWORD}@localhost:{self.port}?smtp=127.0.0.1&from=a@example.com&to={to}&mode={self.mode}"


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_tls_modes_send_over_one_connection_when_the_url_says_not_to_verify(certificate, mode):
    with TlsSink(certificate, mode) as sink:
        jobs = [Job(sink.url() + "&verify=no", "Hello", "<p>Hi</p>", "html", {})] * 3
        assert send_batch(jobs, allow_private=True) == [None] * 3
        assert wait_for(lambda: len(sink.messages) == 3)
    assert len(set(sink.peers)) == 1 and sink.logins == ["user"]


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_a_certificate_that_does_not_verify_is_a_transient_tls_failure(certificate, mode):
    with TlsSink(certificate, mode) as sink:
        [error] = send_batch([Job(sink.url(), "Hello", "<p>Hi</p>", "html", {})], allow_private=True)
    assert (
        not error.permanent
        and str(error) == "mailtos://localhost failed in tls (SSLCertVerificationError)"
        and not sink.messages
    )
