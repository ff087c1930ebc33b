"""Readers on their own: double opt-in by e-mail (a real SMTP sink; the test follows the link in
the mail it received), browser push subscriptions, their own page through their own token only,
phone and chat channels sent a test message before they are saved, rate limits, CSRF."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from notifier import pipeline
from notifier.alerts import links
from notifier.models import Story, Topic
from notifier.settings import get_settings
from notifier.stories import claim, store
from tests.alerting import send_for_row
from tests.api_client import OPERATOR, csrf_of
from tests.pushing import Browser
from tests.sinks import HttpSink, SmtpSink
from tests.test_cli_commands import everything as every_key
from tests.test_unsubscribe import ONE_CLICK


@pytest.fixture
def smtp(monkeypatch):
    with SmtpSink() as sink:
        base = sink.url().split("&to=")[0]
        monkeypatch.setenv("NOTIFIER_MAIL_URL", base)
        get_settings.cache_clear()
        yield sink


@pytest.fixture
def topics(r):
    for name, expr in (("storms", "storm OR flood"), ("markets", "shares OR bonds")):
        store.add_topic(r, Topic(name, expr))
    return ["storms", "markets"]


def everything(r) -> dict:
    """Every stored key but the request-rate buckets, which every request takes from."""
    return {k: v for k, v in every_key(r).items() if not k.startswith("rl:")}


def sign_up(client, email: str, chosen: list[str], headers: dict | None = None):
    csrf = csrf_of(client.get("/").text)
    form = {"email": email, "topics": chosen, "csrf": csrf}
    return client.post("/subscribe", data=form, headers=headers or {})


def link_in(message) -> str:
    return re.search(r"https?://\S+/confirm/[0-9a-f]{64}", message.get_content()).group(0)


def test_double_opt_in_by_email_end_to_end(client, r, smtp, topics):
    answer = sign_up(client, "ann@example.com", ["storms"])
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert store.list_subscribers(r) == []  # nothing exists, so nothing can be sent, until confirmed
    [mail] = smtp.messages
    assert mail["To"] == "ann@example.com" and mail["Subject"] == "Confirm your news alerts"
    path = urlsplit(link_in(mail)).path

    shown = client.get(path)  # following the link only shows a button: scanners follow links too
    assert shown.status_code == 200 and store.list_subscribers(r) == []
    confirmed = client.post(path, data={"csrf": csrf_of(shown.text)}, follow_redirects=False)
    assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/manage/")
    manage = client.get(confirmed.headers["location"])
    assert manage.status_code == 200 and "You're subscribed" in manage.text
    assert 'value="storms" checked' in manage.text and 'value="markets">' in manage.text
    [reader] = store.list_subscribers(r)
    assert reader.topics == ("storms",) and "to=ann@example.com" in reader.urls[0]
    assert client.post(path, data={"csrf": csrf_of(shown.text)}).status_code == 404  # works once

    # the reader's first alert: its manage link leads to their page, one-click unsubscribe works
    story = {"id": "s1", "title": "Storm hits", "link": "https://n.example/s1", "summary": "Wind."}
    assert send_for_row(r, get_settings(), reader.name, reader.urls[0], story) is None
    alert = smtp.messages[-1]
    manage_link = re.search(r"Manage alerts: (\S+)", alert.get_body(("plain",)).get_content()).group(1)
    assert client.get(urlsplit(manage_link).path).status_code == 200
    unsubscribe = alert["List-Unsubscribe"].strip("<>")
    assert client.post(urlsplit(unsubscribe).path, **ONE_CLICK).status_code == 200
    assert store.get_subscriber(r, reader.name).urls == ()


def test_nothing_is_sent_before_confirmation(client, r, smtp, topics, env):
    sign_up(client, "bob@example.com", ["storms"])
    story = Story("s9", "f1", "Storm floods the valley", "https://n.example/s9", None, "Water.", "g9")
    new = claim.claim_stories(r, "f1", [story], story_ttl=3600, title_ttl=600, pending_at=0)
    assert pipeline.route_stories(r, new, get_settings()) == []
    assert len(smtp.messages) == 1  # the confirmation only


def test_confirmation_mails_are_rate_limited_per_address_and_per_client(client, r, smtp, topics):
    assert [sign_up(client, "ann@example.com", ["storms"]).status_code for _ in range(3)] == [200, 200, 429]
    assert len(smtp.for_recipient("ann@example.com")) == 2
    statuses = [sign_up(client, f"reader{i}@example.com", ["storms"]).status_code for i in range(10)]
    assert statuses == [200] * 8 + [429] * 2  # ten per client address an hour, two used above
    # a client cannot pick another address by saying so: no proxy is trusted by default
    spoofed = sign_up(client, "eve@example.com", ["storms"], {"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status_code == 429 and "try again" in spoofed.text


def test_x_forwarded_for_is_believed_only_from_configured_proxies(monkeypatch):
    from starlette.requests import Request

    from notifier.api.clientip import client_ip

    def request(peer: str, forwarded: str) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())]
        return Request({"type": "http", "client": (peer, 5000), "headers": headers})

    assert client_ip(request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"
    monkeypatch.setenv("NOTIFIER_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    get_settings.cache_clear()
    assert client_ip(request("10.1.2.3", "203.0.113.9")) == "203.0.113.9"
    assert client_ip(request("10.1.2.3", "6.6.6.6, 203.0.113.9, 192.0.2.1")) == "203.0.113.9"
    assert client_ip(request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"  # not our proxy


def push_reader(client, topics: list[str], endpoint: str = "http://127.0.0.1:9/push/a") -> dict:
    answer = client.post("/api/push/subscriptions", json=Browser.new().subscription(endpoint, topics))
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_one_reader_can_never_read_or_change_another(client, r, topics):
    ann, bob = (
        push_reader(client, ["storms"], "http://127.0.0.1:9/push/ann"),
        push_reader(client, ["markets"], "http://127.0.0.1:9/push/bob"),
    )
    mine = client.get(f"/api/me/{ann['token']}").json()
    assert mine["topics"] == ["storms"] and [c["id"] for c in mine["channels"]] == [ann["channel"]]
    before = everything(r)
    bob_name = links.resolve_manage(r, bob["token"])
    forged = [
        "0" * 32,
        bob["token"][:-1] + ("0" if bob["token"][-1] != "0" else "1"),
        bob_name,
        links.links_many(r, get_settings(), [(bob_name, "x")])[(bob_name, "x")].unsubscribe_url[-32:],
    ]
    before = everything(r)
    for token in forged:
        assert client.get(f"/api/me/{token}").status_code == 404
        assert client.put(f"/api/me/{token}/topics", json={"topics": ["storms"]}).status_code == 404
        assert client.delete(f"/api/me/{token}").status_code == 404
        assert client.get(f"/manage/{token}").status_code == 404
    # ann's token with bob's channel: no such channel *for ann*
    assert client.delete(f"/api/me/{ann['token']}/channels/{bob['channel']}").status_code == 404
    assert everything(r) == before
    assert client.put(f"/api/me/{ann['token']}/topics", json={"topics": ["markets"]}).status_code == 200
    assert store.get_subscriber(r, bob_name).topics == ("markets",)
    assert client.get(f"/api/me/{bob['token']}").json()["channels"][0]["id"] == bob["channel"]


def test_the_same_browser_subscribing_again_is_the_same_reader(client, r, topics):
    browser = Browser.new()
    first = client.post(
        "/api/push/subscriptions", json=browser.subscription("http://127.0.0.1:9/p/1", ["storms"])
    )
    again = client.post(
        "/api/push/subscriptions", json=Browser.new().subscription("http://127.0.0.1:9/p/1", ["markets"])
    )
    assert first.json()["token"] == again.json()["token"]
    [reader] = store.list_subscribers(r)
    assert reader.topics == ("storms", "markets") and len(reader.urls) == 1
    assert reader.urls[0].startswith("webpush://127.0.0.1:9/p/1?")
    bad = client.post(
        "/api/push/subscriptions",
        json={"endpoint": "ftp://x/y", "keys": {"p256dh": "a", "auth": "b"}, "topics": ["storms"]},
    )
    assert bad.status_code == 422


def test_the_manage_page_forms_need_their_csrf_token_and_save(client, r, topics):
    reader = push_reader(client, ["storms"])
    page = client.get(f"/manage/{reader['token']}")
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    csrf, name = csrf_of(page.text), links.resolve_manage(r, reader["token"])
    before = everything(r)
    forged = client.post(f"/manage/{reader['token']}/topics", data={"topics": ["markets"]})
    assert forged.status_code == 403 and everything(r) == before
    wrong = client.post(f"/manage/{reader['token']}/topics", data={"topics": ["markets"], "csrf": "f" * 32})
    assert wrong.status_code == 403 and everything(r) == before

    saved = client.post(
        f"/manage/{reader['token']}/topics", data={"topics": ["markets", "storms"], "csrf": csrf}
    )
    assert saved.status_code == 200 and "Your topics are saved" in saved.text
    assert store.get_subscriber(r, name).topics == ("markets", "storms")
    quiet = {"quiet_from": "22:00", "quiet_to": "07:00", "tz": "Europe/Paris", "digest": "", "csrf": csrf}
    assert "quiet hours are saved" in client.post(f"/manage/{reader['token']}/schedule", data=quiet).text
    assert store.get_subscriber(r, name).quiet == "22:00-07:00"
    before = everything(r)
    refused = client.post(f"/manage/{reader['token']}/schedule", data={**quiet, "tz": "Mars/Base"})
    assert refused.status_code == 422 and "Mars/Base" in refused.text and everything(r) == before

    left = client.post(f"/manage/{reader['token']}/leave", data={"csrf": csrf})
    assert "Unsubscribed" in left.text and store.list_subscribers(r) == []
    assert client.get(f"/manage/{reader['token']}").status_code == 404


def test_a_phone_channel_is_saved_only_after_its_test_message_was_sent(client, r, topics, monkeypatch):
    reader = push_reader(client, ["storms"])
    token, name = reader["token"], links.resolve_manage(r, reader["token"])
    with HttpSink() as ntfy:
        monkeypatch.setenv("NOTIFIER_NTFY_SERVER", f"http://127.0.0.1:{ntfy.port}")
        get_settings.cache_clear()
        added = client.post(f"/api/me/{token}/channels", json={"kind": "ntfy", "value": "my-news"})
        assert added.status_code == 201, added.text
        assert any("Test alert" in request["body"].decode() for request in ntfy.requests)
    assert [c["kind"] for c in added.json()["channels"]] == ["browser", "ntfy"]
    assert store.get_subscriber(r, name).urls[1] == f"ntfy://127.0.0.1:{ntfy.port}/my-news"

    before = everything(r)
    refusals = [
        ({"kind": "ntfy", "value": "http://127.0.0.1:9/dead"}, "not a ntfy"),  # not a topic nor ntfy URL
        ({"kind": "ntfy", "value": "ntfy://127.0.0.1:9/dead"}, "test message could not be sent"),
        ({"kind": "slack", "value": "https://example.com/not-slack"}, "not a slack"),
        ({"kind": "email", "value": "x"}, "unknown kind"),
        ({"kind": "discord", "value": "json://127.0.0.1:9/"}, "not a discord"),
    ]
    for body, words in refusals:
        answer = client.post(f"/api/me/{token}/channels", json=body)
        assert answer.status_code == 422 and words in answer.json()["error"], (body, answer.json())
    monkeypatch.setenv("NOTIFIER_ALLOW_PRIVATE_HOSTS", "false")
    get_settings.cache_clear()
    guarded = client.post(f"/api/me/{token}/channels", json={"kind": "ntfy", "value": "ntfy://127.0.0.1:9/x"})
    assert guarded.status_code == 422 and "loopback" in guarded.json()["error"]
    assert everything(r) == before


def test_slack_discord_telegram_and_matrix_addresses_are_understood():
    from notifier.alerts.readers import channel_url

    settings = get_settings()
    slack = channel_url(
        "slack", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", settings
    )
    assert slack.startswith("slack://T00000000/B00000000/")
    assert channel_url(
        "discord", "https://discord.com/api/webhooks/123456789/abcdefABCDEF", settings
    ).startswith("discord://123456789/abcdefABCDEF")
    assert (
        channel_url("telegram", "tgram://123456789:ABCdef/12345", settings)
        == "tgram://123456789:ABCdef/12345"
    )
    assert channel_url("matrix", "matrixs://token@matrix.example.org/#news", settings).startswith(
        "matrixs://"
    )
    assert channel_url("ntfy", "breaking_news", settings) == "ntfys://ntfy.sh/breaking_news"


def test_feed_text_is_escaped_and_only_web_links_are_linked(client, r):
    hostile = Story("x1", "f1", "<script>alert(1)</script> & more", "javascript:alert(1)", None, "", "g")
    claim.claim_stories(r, "f1", [hostile], story_ttl=3600, title_ttl=600, pending_at=0)
    page = client.get("/")
    assert (
        "<script>alert(1)" not in page.text
        and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page.text
    )
    assert "javascript:" not in page.text
    assert client.get("/api/wire").json()["stories"][0]["link"] is None
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"


def test_the_sign_up_without_mail_configured_says_so(client, r, topics):
    answer = client.post("/api/subscribe", json={"email": "ann@example.com", "topics": ["storms"]})
    assert answer.status_code == 503 and "NOTIFIER_MAIL_URL" in answer.json()["error"]
    assert client.post(
        "/api/subscribe", json={"email": "not-an-address", "topics": ["storms"]}
    ).status_code in (
        422,
        503,
    )


def test_operator_dashboard_needs_the_token_and_shows_the_figures(client, r):
    login = client.get("/dashboard")
    assert "Operator token" in login.text
    csrf = csrf_of(login.text)
    assert client.post("/dashboard/login", data={"token": "wrong", "csrf": csrf}).status_code == 401
    assert client.get("/dashboard/status.json").status_code == 401
    signed_in = client.post("/dashboard/login", data={"token": OPERATOR["Authorization"][7:], "csrf": csrf})
    assert signed_in.status_code == 200 and "tick queue" in signed_in.text
    assert set(client.get("/dashboard/status.json").json()["queues"]) == {"tick", "poll", "deliver"}
