"""The address guard on the send path: whatever Apprise service a URL names, every connection it
makes, on every redirect hop, goes only to an address the guard allowed.

Real local receivers throughout. The one thing replaced is the system's DNS answer
(`socketguard._resolve`), in the rebinding tests: a name that answers public, then private, is
the public internet's behaviour, which no local server can give us.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from notifier.alerts import sending
from notifier.alerts.channels.base import DeliveryError
from notifier.alerts.channels.via_apprise import check_notify_url, send_via_apprise
from notifier.alerts.render import render_for
from notifier.core import socketguard
from notifier.feeds import websub
from notifier.feeds.websub import WebSubError
from notifier.settings import Settings
from tests.sinks import HttpSink

STORY = {"id": "s1", "title": "Storm hits the coast", "link": "https://example.com/s1", "summary": "Rain."}
PUBLIC = "93.184.216.34"  # what the rebinding name answers first: an address the guard allows

INSIDE = [
    "hassio://127.0.0.1/accesstoken",
    "bark://127.0.0.1/devicekey",
    "gorush://127.0.0.1/token",
    "mastodon://token@127.0.0.1",
    "nctalk://user:pass@127.0.0.1/roomid",
    "synology://127.0.0.1/token",
    "lametric://apikey@127.0.0.1",
    "misskey://token@169.254.169.254",
    "enigma2://169.254.169.254",
    "xml://localhost/metadata",
    "form://127.0.0.1:6379/",
    "json://[::1]:8080/hook",
]


@pytest.mark.parametrize("url", INSIDE)
def test_any_apprise_service_pointing_inside_is_refused_when_added(url):
    with pytest.raises(DeliveryError) as refused:
        check_notify_url(url, allow_private=False)
    assert refused.value.permanent and "refused" in str(refused.value)
    assert "accesstoken" not in str(refused.value) and "pass" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "tgram://123456789:abcdefg_hijklmnop/12315544/",
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        "ntfy://mytopic",
    ],
)
def test_services_with_their_own_endpoint_keep_tokens_where_a_host_would_be(url):
    check_notify_url(url, allow_private=False)  # a token is not a host: nothing to refuse


def send(url: str, allow_private: bool = False, policy=None) -> None:
    settings = Settings(allow_private_hosts=allow_private)
    send_via_apprise(url, render_for(url, STORY, [], settings), allow_private, policy=policy)


@pytest.fixture
def rebinding(monkeypatch):
    """`rebind.example` answers a public address once, then loopback: DNS rebinding."""
    answers = [PUBLIC]
    original = socketguard._resolve

    def resolve(host, port, *args, **kwargs):
        if host != "rebind.example":
            return original(host, port, *args, **kwargs)
        address = answers.pop(0) if answers else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socketguard, "_resolve", resolve)
    socketguard.install()


@pytest.mark.parametrize("scheme", ["json", "form", "xml"])
def test_a_name_that_rebinds_to_loopback_after_the_check_never_reaches_it(rebinding, scheme):
    with HttpSink() as sink:
        url = f"{scheme}://rebind.example:{sink.port}/hook"
        with pytest.raises(DeliveryError) as refused:
            send(url)
    assert sink.requests == []
    assert refused.value.permanent and "127.0.0.1" in str(refused.value)


def only(address: str):
    return lambda ip: ip == ipaddress.ip_address(address)


def test_a_redirect_to_another_address_is_checked_hop_by_hop():
    with HttpSink("127.0.0.2") as inside, HttpSink() as hook:
        hook.responses.append((307, {"Location": inside.url("/stolen", scheme="http")}))
        with pytest.raises(DeliveryError) as refused:
            send(hook.url("/hook"), allow_private=True, policy=only("127.0.0.1"))
    assert [r["path"] for r in hook.requests] == ["/hook"] and inside.requests == []
    assert "127.0.0.2" in str(refused.value)


def test_the_same_redirect_is_followed_when_the_policy_allows_it():
    with HttpSink("127.0.0.2") as other, HttpSink() as hook:
        hook.responses.append((307, {"Location": other.url("/moved", scheme="http")}))
        send(hook.url("/hook"), allow_private=True)
    assert [r["path"] for r in other.requests] == ["/moved"]


def test_a_digest_goes_through_the_same_guard(rebinding):
    with HttpSink() as sink:
        error = sending.send_digest(
            f"json://rebind.example:{sink.port}/hook", [STORY, STORY | {"id": "s2"}], Settings()
        )
    assert sink.requests == [] and error is not None and error.permanent


def test_a_websub_hub_that_rebinds_to_loopback_is_never_asked(rebinding, r):
    with HttpSink() as hub:
        with pytest.raises(WebSubError, match="127.0.0.1"):
            websub._ask(
                r, "f1", f"http://rebind.example:{hub.port}/hub", {"hub.mode": "subscribe"}, Settings()
            )
    assert hub.requests == []


def test_outside_a_guarded_block_lookups_pass_untouched():
    socketguard.install()
    assert socket.getaddrinfo("127.0.0.1", 80)  # the service's own Redis and sinks stay reachable
