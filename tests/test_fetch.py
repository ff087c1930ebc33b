"""Fetching over real HTTP from a local FeedServer.

The server is on 127.0.0.1, which the guard refuses by default, so these tests pass
limits with allow_private=True, except where the guard itself is under test.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import hashlib
import ipaddress
import time
from datetime import UTC, datetime

import pytest

from notifier.core.netguard import is_public_address
from notifier.core.retry_after import parse_retry_after
from notifier.feeds.fetch import (
    FetchError,
    FetchLimits,
    FetchRequest,
    FetchResult,
    fetch,
    fetch_many,
    make_session,
)
from notifier.settings import Settings
from tests.feedserver import FeedServer

LOCAL = FetchLimits(
    allow_private=True, connect_timeout=2, read_timeout=3, total_timeout=10, max_bytes=1_000_000
)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>World</title></channel></rss>'


def loopback_one_or_public(ip) -> bool:
    """A policy for guard tests: this machine's feed server, and the public internet, nothing else."""
    return ip == ipaddress.ip_address("127.0.0.1") or is_public_address(ip)


GUARDED = FetchLimits(policy=loopback_one_or_public, connect_timeout=2, read_timeout=3, total_timeout=10)


@pytest.fixture
def server():
    with FeedServer() as feeds:
        feeds.set("/feed.xml", RSS)
        yield feeds


def failure(url: str, limits: FetchLimits = LOCAL, **conditions) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, limits=limits, **conditions)
    assert "\n" not in str(caught.value)
    return caught.value


# -- conditional GET ------------------------------------------------------------------------------


def test_it_fetches_a_feed_with_its_validators(server):
    result = fetch(server.url("/feed.xml"), limits=LOCAL)
    assert isinstance(result, FetchResult)
    assert (result.status, result.body) == (200, RSS)
    assert result.url == result.final_url == server.url("/feed.xml")
    assert result.etag == '"' + hashlib.sha1(RSS).hexdigest() + '"'
    assert result.last_modified is not None
    assert result.content_type == "application/rss+xml"
    assert result.permanent_redirect is None


def test_it_asks_for_feeds_and_says_who_it_is(server):
    fetch(server.url("/feed.xml"), limits=LOCAL)
    headers = server.requests_for("/feed.xml")[0].headers
    assert headers["Accept"] == "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert headers["User-Agent"] == "notifier/0.1 (+https://github.com/notifier)"
    assert headers.get("If-None-Match") is None


def test_an_etag_round_trip_gives_304_and_no_body(server):
    first = fetch(server.url("/feed.xml"), limits=LOCAL)
    second = fetch(server.url("/feed.xml"), etag=first.etag, limits=LOCAL)
    assert (second.status, second.body) == (304, None)
    assert server.requests[-1].headers["If-None-Match"] == first.etag


def test_a_last_modified_round_trip_gives_304_until_the_feed_changes(server):
    first = fetch(server.url("/feed.xml"), limits=LOCAL)
    unchanged = fetch(server.url("/feed.xml"), last_modified=first.last_modified, limits=LOCAL)
    assert (unchanged.status, unchanged.body) == (304, None)
    assert server.requests[-1].headers["If-Modified-Since"] == first.last_modified
    server.set("/feed.xml", RSS.replace(b"World", b"Europe"))
    changed = fetch(server.url("/feed.xml"), last_modified=first.last_modified, limits=LOCAL)
    assert changed.status == 200
    assert b"Europe" in changed.body


def test_a_changed_feed_answers_an_old_etag_with_the_new_body(server):
    first = fetch(server.url("/feed.xml"), limits=LOCAL)
    server.set("/feed.xml", RSS.replace(b"World", b"Asia"))
    second = fetch(server.url("/feed.xml"), etag=first.etag, limits=LOCAL)
    assert second.status == 200
    assert second.etag != first.etag
    assert b"Asia" in second.body


def test_cache_and_discovery_headers_are_passed_through(server):
    headers = {
        "Cache-Control": "max-age=300",
        "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
        "Link": '<https://hub.example/>; rel="hub", <https://news.example/rss>; rel="self"',
    }
    server.set("/atom.xml", b"<feed/>", content_type="application/atom+xml; charset=utf-8", headers=headers)
    result = fetch(server.url("/atom.xml"), limits=LOCAL)
    assert result.content_type == "application/atom+xml; charset=utf-8"
    assert result.cache_control == "max-age=300"
    assert result.expires == "Wed, 21 Oct 2037 07:28:00 GMT"
    assert result.link_header == headers["Link"]


def test_a_gzip_body_arrives_decompressed(server):
    server.set("/gz.xml", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    assert fetch(server.url("/gz.xml"), limits=LOCAL).body == RSS


@pytest.mark.parametrize("name", ["billion_laughs", "xxe"])
def test_hostile_xml_is_fetched_as_plain_bytes(server, name):
    documents = {
        "billion_laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><rss>&lol2;</rss>',
        "xxe": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss>&x;</rss>',
    }
    server.set(f"/{name}.xml", documents[name])
    assert fetch(server.url(f"/{name}.xml"), limits=LOCAL).body == documents[name]


# -- redirects ------------------------------------------------------------------------------------


def test_a_chain_of_permanent_redirects_reports_the_new_address(server):
    server.behave("/old.xml", "redirect", to="/older.xml", status=301)
    server.behave("/older.xml", "redirect", to=server.url("/feed.xml"), status=308)
    result = fetch(server.url("/old.xml"), limits=LOCAL)
    assert (result.status, result.body) == (200, RSS)
    assert result.url == server.url("/old.xml")
    assert result.final_url == result.permanent_redirect == server.url("/feed.xml")


def test_one_temporary_hop_means_the_feed_has_not_moved(server):
    server.behave("/old.xml", "redirect", to="/moving.xml", status=301)
    server.behave("/moving.xml", "redirect", to="/feed.xml", status=302)
    result = fetch(server.url("/old.xml"), limits=LOCAL)
    assert result.final_url == server.url("/feed.xml")
    assert result.permanent_redirect is None


def chain(server: FeedServer, hops: int) -> str:
    for n in range(hops):
        server.behave(f"/hop{n}", "redirect", to=f"/hop{n + 1}" if n + 1 < hops else "/feed.xml")
    return server.url("/hop0")


def test_five_redirects_are_followed(server):
    assert fetch(chain(server, 5), limits=LOCAL).body == RSS


def test_a_sixth_redirect_is_refused(server):
    error = failure(chain(server, 6))
    assert error.kind == "redirects"
    assert not server.requests_for("/feed.xml")


def test_a_redirect_loop_is_refused(server):
    server.behave("/ping.xml", "redirect", to="/pong.xml")
    server.behave("/pong.xml", "redirect", to="/ping.xml")
    error = failure(server.url("/ping.xml"))
    assert error.kind == "redirects"
    assert "loop" in str(error)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1/"])
def test_a_redirect_off_http_is_refused(server, target):
    server.behave("/away.xml", "redirect", to=target)
    error = failure(server.url("/away.xml"))
    assert (error.kind, error.permanent) == ("scheme", True)


def test_a_redirect_without_location_is_an_error(server):
    server.behave("/nowhere.xml", "status", code=302)
    assert failure(server.url("/nowhere.xml")).kind == "redirects"


# -- the address guard ----------------------------------------------------------------------------


def test_the_local_server_is_refused_unless_private_hosts_are_allowed(server):
    error = failure(server.url("/feed.xml"), limits=FetchLimits())
    assert (error.kind, error.permanent) == ("refused", True)
    assert "127.0.0.1 is a loopback address" in str(error)
    assert server.requests == []  # refused before connecting


def test_a_name_for_the_local_server_is_refused_by_the_resolver(server):
    port = server.base_url.rsplit(":", 1)[1]
    error = failure(f"http://0x7f000001:{port}/feed.xml", limits=FetchLimits())
    assert error.kind == "refused"
    assert "0x7f000001 resolves to 127.0.0.1, a loopback address" in str(error)
    assert server.requests == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://0xA9FEA9FE/latest/meta-data/", "resolves to 169.254.169.254, a link-local address"),
        ("http://2852039166/latest/meta-data/", "2852039166 is a non-canonical form of 169.254.169.254"),
        ("http://[::ffff:169.254.169.254]/", "IPv6 form of 169.254.169.254"),
        ("http://127.0.0.2/", "127.0.0.2 is a loopback address"),
    ],
)
def test_every_redirect_hop_is_checked(server, target, message):
    server.behave("/meta.xml", "redirect", to=target, status=301)
    error = failure(server.url("/meta.xml"), limits=GUARDED)
    assert (error.kind, error.permanent) == ("refused", True)
    assert message in str(error)
    assert len(server.requests) == 1


def test_a_redirect_hop_by_name_goes_through_the_resolver(server):
    port = server.base_url.rsplit(":", 1)[1]
    server.behave("/allowed.xml", "redirect", to=f"http://0x7f000001:{port}/feed.xml")
    assert fetch(server.url("/allowed.xml"), limits=GUARDED).body == RSS
    server.behave("/refused.xml", "redirect", to=f"http://0x7f000002:{port}/feed.xml")
    error = failure(server.url("/refused.xml"), limits=GUARDED)
    assert error.kind == "refused"
    assert "0x7f000002 resolves to 127.0.0.2" in str(error)


def test_an_unknown_name_is_a_dns_error():
    error = failure("http://nonexistent.invalid/feed.xml", limits=FetchLimits())
    assert (error.kind, error.permanent) == ("dns", False)
    assert "nonexistent.invalid" in str(error)


def test_a_closed_port_is_a_connect_error():
    with FeedServer() as gone:
        url = gone.url("/feed.xml")
    assert failure(url).kind == "connect"


# -- time and size caps ---------------------------------------------------------------------------


def test_a_dripping_server_is_cut_at_the_total_deadline(server):
    server.behave("/drip.xml", "drip", interval=0.2)
    limits = FetchLimits(allow_private=True, read_timeout=5, total_timeout=2)
    error = failure(server.url("/drip.xml"), limits=limits)
    assert error.kind == "timeout"
    assert "took longer than 2 s" in str(error)


def test_the_dripping_handler_stops_when_the_client_goes(server):
    server.behave("/drip.xml", "drip", interval=0.1)
    failure(server.url("/drip.xml"), limits=FetchLimits(allow_private=True, total_timeout=1))
    for _ in range(100):  # the server notices within one interval; wait for it, never assert a time
        if server.open_connections == 0:
            break
        time.sleep(0.05)
    assert server.open_connections == 0


def test_a_server_that_does_not_answer_hits_the_read_timeout(server):
    server.behave("/slow.xml", "slow", seconds=10)
    limits = FetchLimits(allow_private=True, read_timeout=1, total_timeout=20)
    error = failure(server.url("/slow.xml"), limits=limits)
    assert error.kind == "timeout"
    assert "stopped sending" in str(error)


def test_a_gzip_bomb_is_cut_while_it_inflates(server):
    server.behave("/bomb.xml", "gzip_bomb", size=100 * 1024 * 1024)
    error = failure(server.url("/bomb.xml"))
    assert error.kind == "too_large"


def test_a_content_length_over_the_cap_is_refused_at_once(server):
    server.behave("/huge.xml", "huge", size=10, declared=50_000_000)
    assert failure(server.url("/huge.xml")).kind == "too_large"


def test_a_body_without_length_is_cut_at_the_cap(server):
    server.behave("/endless.xml", "huge", size=20_000_000)
    assert failure(server.url("/endless.xml")).kind == "too_large"


def test_a_body_at_the_cap_is_accepted(server):
    server.set("/exact.xml", b"x" * LOCAL.max_bytes)
    assert len(fetch(server.url("/exact.xml"), limits=LOCAL).body) == LOCAL.max_bytes


# -- error statuses -------------------------------------------------------------------------------


def test_429_carries_retry_after_in_seconds(server):
    server.behave("/busy.xml", "status", code=429, headers={"Retry-After": "120"})
    error = failure(server.url("/busy.xml"))
    assert (error.kind, error.status, error.retry_after, error.permanent) == ("http", 429, 120.0, False)


def test_503_carries_retry_after_given_as_a_date(server):
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    server.behave("/down.xml", "status", code=503, headers={"Retry-After": when})
    error = failure(server.url("/down.xml"))
    assert (error.kind, error.status) == ("http", 503)
    assert 3500 < error.retry_after <= 3600


def test_410_gone_is_permanent(server):
    server.behave("/gone.xml", "status", code=410)
    error = failure(server.url("/gone.xml"))
    assert (error.kind, error.status, error.permanent) == ("http", 410, True)


@pytest.mark.parametrize("code", [404, 500])
def test_other_error_statuses_are_not_permanent(server, code):
    server.behave("/broken.xml", "status", code=code)
    url = server.url("/broken.xml")
    error = failure(url)
    assert (error.kind, error.status, error.permanent, error.retry_after) == ("http", code, False, None)
    assert str(error) == f"http {code} from http://127.0.0.1"


def test_messages_never_show_a_path_or_query(server):
    server.behave("/private/feed.xml", "status", code=403)
    with FeedServer() as gone:
        closed = gone.url("/private/feed.xml?token=s3cret")
    for url in (server.url("/private/feed.xml?token=s3cret"), closed):
        message = str(failure(url))
        assert "s3cret" not in message
        assert "private" not in message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 01 Jan 2031 00:02:00 GMT", 120.0),
        ("Tue, 31 Dec 2030 23:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_is_read_in_both_forms(value, seconds):
    assert parse_retry_after(value, now=datetime(2031, 1, 1, tzinfo=UTC)) == seconds


# -- many at once ---------------------------------------------------------------------------------


def test_many_feeds_on_one_host_respect_the_per_host_cap(server):
    for n in range(200):
        server.set(f"/feed/{n}.xml", RSS.replace(b"World", f"Feed {n}".encode()))
        server.behave(f"/feed/{n}.xml", "slow", seconds=0.02)  # long enough for requests to overlap
    requests = [FetchRequest(server.url(f"/feed/{n}.xml")) for n in range(200)]
    results = asyncio.run(fetch_many(requests, FetchLimits(allow_private=True, per_host=4)))
    assert all(isinstance(result, FetchResult) for result in results)
    assert [result.url for result in results] == [request.url for request in requests]
    assert all(f"Feed {n}<".encode() in result.body for n, result in enumerate(results))
    assert 1 < server.max_in_flight <= 4
    assert server.max_connections <= 4


def test_fetch_many_returns_errors_in_place(server):
    server.behave("/missing.xml", "status", code=404)
    first = fetch(server.url("/feed.xml"), limits=LOCAL)
    requests = [
        FetchRequest(server.url("/feed.xml")),
        FetchRequest(server.url("/missing.xml")),
        FetchRequest("file:///etc/passwd"),
        FetchRequest(server.url("/feed.xml"), etag=first.etag),
    ]
    results = asyncio.run(fetch_many(requests, LOCAL))
    assert results[0].status == 200
    assert (results[1].kind, results[1].status) == ("http", 404)
    assert results[2].kind == "scheme"
    assert results[3].status == 304


def test_a_session_can_be_shared_by_the_caller(server):
    from notifier.feeds.fetch import fetch_one

    async def run():
        async with make_session(LOCAL) as session:
            return await asyncio.gather(
                *(fetch_one(session, server.url("/feed.xml"), limits=LOCAL) for _ in range(3))
            )

    assert [result.body for result in asyncio.run(run())] == [RSS] * 3


# -- limits ---------------------------------------------------------------------------------------


def test_limits_come_from_the_settings():
    settings = Settings(_env_file=None, fetch_total_timeout=5, fetch_per_host=2, allow_private_hosts=True)
    limits = FetchLimits.from_settings(settings)
    assert (limits.total_timeout, limits.per_host, limits.allow_private) == (5, 2, True)
    assert limits.max_bytes == settings.fetch_max_bytes
    assert FetchLimits().connect_timeout == Settings(_env_file=None).fetch_connect_timeout
