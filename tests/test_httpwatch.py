"""What a service answered reaches us: real Apprise sends to a real local HTTP server, watched."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apprise
import pytest
import requests

from notifier.alerts.channels.httpwatch import install, watch
from notifier.core.retry_after import MAX_RETRY_AFTER, parse_retry_after
from tests.sinks import HttpSink


@pytest.fixture
def sink():
    with HttpSink() as server:
        yield server


def statuses(seen) -> list[int]:
    return [status for status, _ in seen.responses]


def notify(*urls: str) -> bool:
    sender = apprise.Apprise()
    for url in urls:
        sender.add(url)
    return bool(sender.notify(title="Storm closes schools", body="https://news.example.com/storm"))


def test_a_429_with_retry_after_in_seconds_is_seen(sink):
    sink.responses.append((429, {"Retry-After": "7"}))
    with watch() as seen:
        assert notify(sink.url()) is False
    assert seen.status == 429 and seen.retry_after == 7.0 and not seen.permanent
    assert statuses(seen) == [429] and len(sink.requests) == 1


def test_a_retry_after_given_as_an_http_date_is_turned_into_seconds(sink):
    later = datetime.now(UTC) + timedelta(seconds=120)
    sink.responses.append((429, {"Retry-After": format_datetime(later, usegmt=True)}))
    with watch() as seen:
        notify(sink.url())
    assert 60 < seen.retry_after <= 120


def test_a_retry_after_of_more_than_a_day_is_capped(sink):
    sink.responses.append((503, {"Retry-After": "99999999"}))
    with watch() as seen:
        notify(sink.url())
    assert seen.status == 503 and seen.retry_after == MAX_RETRY_AFTER


def test_an_unreadable_retry_after_is_ignored(sink):
    sink.responses.append((429, {"Retry-After": "soon, maybe"}))
    with watch() as seen:
        notify(sink.url())
    assert seen.status == 429 and seen.retry_after is None


@pytest.mark.parametrize("status", [404, 410, 401, 403])
def test_a_service_saying_the_url_itself_is_wrong_is_permanent(sink, status):
    sink.responses.append((status, {}))
    with watch() as seen:
        assert notify(sink.url()) is False
    assert seen.status == status and seen.permanent


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_worth_retrying(sink, status):
    sink.responses.append((status, {}))
    with watch() as seen:
        notify(sink.url())
    assert seen.status == status and not seen.permanent and seen.retry_after is None


def test_a_successful_send_has_nothing_to_report(sink):
    with watch() as seen:
        assert notify(sink.url()) is True
    assert statuses(seen) == [200] and seen.retry_after is None and not seen.permanent


def test_the_watch_leaves_the_response_untouched(sink):
    sink.responses.append((429, {"Retry-After": "7", "X-Extra": "kept"}))
    with watch() as seen:
        response = requests.post(sink.url("/raw", scheme="http"), data=b"hello", timeout=5)
    assert response.status_code == 429 and response.content == b"{}"
    assert response.headers["Retry-After"] == "7" and response.headers["X-Extra"] == "kept"
    assert sink.requests[0]["body"] == b"hello" and seen.retry_after == 7.0


def test_each_hop_of_a_redirect_is_seen_once_in_order(sink):
    sink.responses += [(307, {"Location": "/moved"}), (200, {})]
    with watch() as seen:
        response = requests.post(sink.url("/old", scheme="http"), data=b"x", timeout=5)
    assert response.status_code == 200 and [r["path"] for r in sink.requests] == ["/old", "/moved"]
    assert statuses(seen) == [307, 200] and seen.status == 200


class JsonBodyServer:
    """Answers every POST with one fixed status and JSON body, as Telegram and Discord do on 429."""

    def __init__(self, status: int, body: dict):
        payload = json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bot/sendMessage"

    def __enter__(self) -> JsonBodyServer:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "body, wait",
    [
        ({"ok": False, "error_code": 429, "parameters": {"retry_after": 35}}, 35.0),  # Telegram
        ({"message": "You are being rate limited.", "retry_after": 1.5, "global": False}, 1.5),  # Discord
        ({"ok": False, "parameters": {"retry_after": "a while"}}, None),
    ],
)
def test_a_wait_given_only_in_a_json_body_is_seen(body, wait):
    with JsonBodyServer(429, body) as server, watch() as seen:
        response = requests.post(server.url, json={"text": "hi"}, timeout=5)
    assert response.json() == body
    assert seen.status == 429 and seen.retry_after == wait


def test_two_threads_watching_at_once_see_only_their_own_sends():
    results: dict[str, list[int]] = {}
    with HttpSink() as limited, HttpSink() as fine:
        limited.responses.append((429, {"Retry-After": "3"}))
        limited.delay = fine.delay = 0.3  # both sends are in flight together
        both_ready = threading.Barrier(2)

        def send(name, target):
            with watch() as seen:
                both_ready.wait(timeout=10)
                notify(target.url())
            results[name] = statuses(seen)

        threads = [
            threading.Thread(target=send, args=("limited", limited)),
            threading.Thread(target=send, args=("fine", fine)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert results == {"limited": [429], "fine": [200]}


def test_sends_apprise_fans_out_to_its_threads_are_still_seen():
    with HttpSink() as limited, HttpSink() as fine:
        limited.responses.append((429, {"Retry-After": "3"}))
        with watch() as seen:
            assert notify(limited.url(), fine.url()) is False
    assert sorted(statuses(seen)) == [200, 429] and seen.retry_after == 3.0


def test_nothing_is_noted_outside_a_watch(sink):
    install()
    sink.responses += [(429, {"Retry-After": "9"})] * 3
    notify(sink.url())
    with watch() as seen:
        elsewhere = threading.Thread(target=notify, args=(sink.url(),))  # a thread of its own context
        elsewhere.start()
        elsewhere.join(timeout=30)
    notify(sink.url())
    assert len(sink.requests) == 3 and statuses(seen) == [] and seen.status is None


def test_a_send_that_is_not_http_reports_nothing():
    with watch() as seen:
        apprise.Apprise().notify(body="no services at all")
    assert seen.status is None and seen.retry_after is None and not seen.permanent


def test_installing_twice_wraps_requests_once():
    install()
    wrapped = requests.Session.send
    install()
    assert requests.Session.send is wrapped
    assert not getattr(wrapped.__wrapped__, "_httpwatch", False)


@pytest.mark.parametrize(
    "value, seconds",
    [("7", 7.0), (" 120 ", 120.0), ("1.5", 1.5), ("-3", None), ("nan", None), ("", None), ("soon", None)],
)
def test_retry_after_values_are_read_as_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_an_http_date_in_the_past_means_now():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
