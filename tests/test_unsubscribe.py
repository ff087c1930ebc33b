"""Unsubscribe links: the real FastAPI app on the test Redis, and a real e-mail's header."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from notifier.alerts.links import UNSUBSCRIBE, links_many
from notifier.api import app
from notifier.models import Subscriber
from notifier.settings import get_settings
from notifier.stories import store
from tests.alerting import rendered_for_row, send_for_row
from tests.sinks import HttpSink, SmtpSink

ONE_CLICK = {
    "content": b"List-Unsubscribe=One-Click",
    "headers": {"Content-Type": "application/x-www-form-urlencoded"},
}
PHONE = "json://127.0.0.1:9/phone"
MAIL = "mailto://user:pw@localhost:2525?smtp=127.0.0.1&from=alerts@example.com&to=ann@example.com"


@pytest.fixture
def client(env):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def ann(r):
    sub = Subscriber("ann <script>", (MAIL, PHONE), ("world", "markets"), quiet="22:00-07:00")
    store.add_subscriber(r, sub)
    return sub


def path_of(r, name: str, url: str) -> str:
    return urlsplit(links_many(r, get_settings(), [(name, url)])[(name, url)].unsubscribe_url).path


def test_the_link_shows_a_confirmation_page_with_a_post_form_and_changes_nothing(client, r, ann):
    page = client.get(path_of(r, ann.name, MAIL))
    assert page.status_code == 200
    assert '<form method="post">' in page.text and 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert "ann &lt;script&gt;" in page.text and "<script>" not in page.text
    assert "mailto://localhost" in page.text and "pw" not in page.text  # the target is redacted
    assert store.get_subscriber(r, ann.name) == ann


def test_the_pages_stay_out_of_caches_search_engines_and_referers(client, r, ann):
    headers = client.get(path_of(r, ann.name, MAIL)).headers
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Robots-Tag"] == "noindex" and headers["Content-Type"].startswith("text/html")


def test_a_one_click_post_removes_only_that_url(client, r, ann):
    answer = client.post(path_of(r, ann.name, MAIL), **ONE_CLICK)
    assert answer.status_code == 200 and "Unsubscribed" in answer.text
    after = store.get_subscriber(r, ann.name)
    assert after.urls == (PHONE,)
    assert (after.topics, after.quiet) == (ann.topics, ann.quiet)
    assert ann.name in store.subscribers_of(r, ["world"])


def test_a_second_one_click_post_still_answers_200(client, r, ann):
    path = path_of(r, ann.name, PHONE)
    assert client.post(path, **ONE_CLICK).status_code == 200
    again = client.post(path, **ONE_CLICK)
    assert again.status_code == 200 and "Already unsubscribed" in again.text
    assert client.get(path).status_code == 200
    assert store.get_subscriber(r, ann.name).urls == (MAIL,)


@pytest.mark.parametrize("token", ["0" * 32, "ab12" * 8, "not-a-token", "A" * 32, "0" * 64])
def test_a_forged_token_is_404_and_changes_nothing(client, r, ann, token):
    path_of(r, ann.name, MAIL)  # a real token exists too
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{token}", **ONE_CLICK).status_code == 404
    assert store.get_subscriber(r, ann.name) == ann


def test_a_token_planted_in_redis_without_our_secret_is_404(client, r, ann):
    path_of(r, ann.name, MAIL)
    forged = "f" * 32
    real = r.get(UNSUBSCRIBE + path_of(r, ann.name, MAIL).rsplit("/", 1)[1])
    r.set(UNSUBSCRIBE + forged, real)
    assert client.post(f"/unsubscribe/{forged}", **ONE_CLICK).status_code == 404
    assert store.get_subscriber(r, ann.name) == ann


def test_a_token_is_stable_per_subscriber_and_url_and_differs_between_them(r, env, ann):
    first = path_of(r, ann.name, MAIL)
    assert path_of(r, ann.name, MAIL) == first
    assert path_of(r, ann.name, PHONE) != first and path_of(r, "bob", MAIL) != first
    assert len(r.keys(UNSUBSCRIBE + "*")) == 3


def test_the_unsubscribe_header_of_a_real_email_unsubscribes_with_one_click(client, r):
    story = {"id": "s1", "title": "Markets fall", "link": "https://example.com/m", "summary": "Down."}
    with SmtpSink() as smtp, HttpSink() as hook:
        mail, phone = smtp.url("ann@example.com"), hook.url("/phone")
        store.add_subscriber(r, Subscriber("ann", (mail, phone), ("markets",)))
        assert send_for_row(r, get_settings(), "ann", mail, story) is None
    [message] = smtp.messages
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith(get_settings().base_url + "/unsubscribe/")
    assert client.post(urlsplit(link).path, **ONE_CLICK).status_code == 200
    assert store.get_subscriber(r, "ann").urls == (phone,)


def test_an_alert_to_a_name_we_do_not_store_carries_no_unsubscribe_link(r, env):
    story = {"id": "s2", "title": "Notice", "link": None, "summary": "For the operator."}
    rendered = rendered_for_row(r, get_settings(), "operator", MAIL, story)
    # only its identity (a Message-ID made from the delivery id), no List-Unsubscribe
    assert set(rendered.headers) == {"Message-ID"} and "unsubscribe" not in rendered.body
    assert r.keys(UNSUBSCRIBE + "*") == []
