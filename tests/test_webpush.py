"""The Web Push channel on its own: a real encrypted message to a local push endpoint, what the
push service's answers mean, the address guard, and the VAPID key that must never change."""

from __future__ import annotations

import json

import pytest

from notifier.alerts import pacing
from notifier.alerts.channels import webpush
from notifier.core import vapid
from notifier.models import Subscriber
from notifier.settings import get_settings
from notifier.stories import store
from tests.alerting import rendered_for_row, send_for_row
from tests.pushing import Browser
from tests.sinks import HttpSink

STORY = {"id": "s1", "title": "Storm hits", "link": "https://n.example/s1", "summary": "Wind and rain."}


def subscribed(r, push_service: HttpSink, browser: Browser) -> str:
    sub = browser.subscription(f"http://127.0.0.1:{push_service.port}/push/x")
    url = webpush.subscription_url(sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"])
    store.add_subscriber(r, Subscriber("ann", (url,), ("storms",)))
    return url


def test_an_alert_is_encrypted_for_the_browser_and_signed_by_us(r, env):
    browser = Browser.new()
    with HttpSink() as push_service:
        url = subscribed(r, push_service, browser)
        assert send_for_row(r, get_settings(), "ann", url, STORY) is None
    [request] = push_service.requests
    assert request["headers"]["Content-Encoding"] == "aes128gcm"
    assert request["headers"]["Authorization"].startswith("vapid t=")
    assert json.loads(browser.decrypt(request["body"])) == {
        "title": "Storm hits",
        "body": "Wind and rain.",
        "url": "https://n.example/s1",
        "tag": "s1",
    }
    assert STORY["summary"].encode() not in request["body"]


@pytest.mark.parametrize(
    ("status", "headers", "permanent", "wait"),
    [
        (410, {}, True, None),
        (404, {}, True, None),
        (429, {"Retry-After": "30"}, False, 30.0),
        (500, {}, False, None),
    ],
)
def test_what_the_push_service_answers_means(r, env, status, headers, permanent, wait):
    with HttpSink() as push_service:
        push_service.responses.append((status, headers))
        error = send_for_row(r, get_settings(), "ann", subscribed(r, push_service, Browser.new()), STORY)
    assert error is not None and error.permanent is permanent and error.retry_after == wait
    assert f"http {status}" in str(error) and "/push/x" not in str(error)


def test_the_address_guard_refuses_a_push_endpoint_on_loopback(r, env, monkeypatch):
    with HttpSink() as push_service:
        url = subscribed(r, push_service, Browser.new())
        monkeypatch.setenv("NOTIFIER_ALLOW_PRIVATE_HOSTS", "false")
        get_settings.cache_clear()
        error = send_for_row(r, get_settings(), "ann", url, STORY)
        with pytest.raises(Exception, match="loopback"):
            webpush.check(url, allow_private=False)
    assert error.permanent and "loopback" in str(error) and push_service.requests == []


def test_a_subscription_url_keeps_the_endpoint_and_refuses_what_is_no_subscription():
    browser = Browser.new()
    keys = browser.subscription("https://push.example/a")["keys"]
    url = webpush.subscription_url("https://push.example/send/abc?x=1", keys["p256dh"], keys["auth"])
    assert url.startswith("webpushs://push.example/send/abc?x=1&p256dh=")
    assert webpush.subscription_of(url) == {"endpoint": "https://push.example/send/abc?x=1", "keys": keys}
    for endpoint, p256dh, auth in [
        ("ftp://push.example/a", keys["p256dh"], keys["auth"]),
        ("https://push.example/a", "AAAA", keys["auth"]),
        ("https://push.example/a", keys["p256dh"], "!!"),
        ("https:///a", keys["p256dh"], keys["auth"]),
    ]:
        with pytest.raises(ValueError):
            webpush.subscription_url(endpoint, p256dh, auth)


def test_each_browser_is_paced_on_its_own_not_its_push_service():
    one = webpush.subscription_url("https://fcm.example/a", Browser.new().p256dh, "A" * 22)
    two = webpush.subscription_url("https://fcm.example/b", Browser.new().p256dh, "A" * 22)
    assert pacing.destination_keys(one)[0][0] != pacing.destination_keys(two)[0][0]


def test_only_web_links_reach_the_notification(r, env):
    url = webpush.subscription_url("http://127.0.0.1:9/p", Browser.new().p256dh, "A" * 22)
    rendered = rendered_for_row(r, get_settings(), "nobody", url, {**STORY, "link": "javascript:alert(1)"})
    assert json.loads(rendered.body)["url"] is None


def test_the_vapid_key_is_made_once_and_kept_in_the_data_dir_and_redis(r, env):
    settings = get_settings()
    first = vapid.public_key(r, settings)
    assert (settings.data_dir / vapid.FILE).exists() and r.exists(vapid.KEY)
    vapid._signers.clear()  # a new process: the same key again, from the data dir
    r.delete(vapid.KEY)
    assert vapid.public_key(r, settings) == first
    vapid._signers.clear()  # another container, without that disk: Redis has it
    (settings.data_dir / vapid.FILE).unlink()
    assert vapid.public_key(r, settings) == first
