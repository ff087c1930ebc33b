"""The address guard: which addresses are public, and what `check_url` refuses and why.

No test needs the internet: literals resolve locally, and public *names* (the one edge we cannot
reach from here) are simulated by patching socket.getaddrinfo.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from notifier.core import netguard
from notifier.core.netguard import (
    AddressRefused,
    GuardedResolver,
    InvalidURL,
    ResolveError,
    UnsupportedScheme,
    check_literal,
    check_url,
    is_public_address,
    policy_for,
    resolve_public,
)

NOT_PUBLIC = [
    ("127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "shared"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "private"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "private"),
    ("::ffff:127.0.0.1", "IPv6 form of 127.0.0.1"),
    ("::ffff:10.0.0.1", "IPv6 form of 10.0.0.1"),
    ("::127.0.0.1", "IPv6 form of 127.0.0.1"),
    ("2002:7f00:1::1", "IPv6 form of 127.0.0.1"),
    ("2002:a9fe:a9fe::", "IPv6 form of 169.254.169.254"),
    ("64:ff9b::a9fe:a9fe", "IPv6 form of 169.254.169.254"),
    ("64:ff9b:1::1", "NAT64"),
    ("2001::1", "Teredo"),
]

PUBLIC = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81c::200e",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize(("address", "reason"), NOT_PUBLIC)
def test_it_knows_internal_addresses_and_why(address, reason):
    ip = ipaddress.ip_address(address)
    assert not is_public_address(ip)
    with pytest.raises(AddressRefused, match=reason):
        check_literal(address, policy_for(False))


@pytest.mark.parametrize("address", PUBLIC)
def test_it_knows_public_addresses(address):
    assert is_public_address(ipaddress.ip_address(address))


REFUSED_URLS = [
    ("http://169.254.169.254/", "169.254.169.254 is a link-local address"),
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://localhost/", "localhost resolves to .*loopback"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "IPv6 form of 127.0.0.1, a loopback address"),
    ("http://2852039166/", "2852039166 resolves to 169.254.169.254, a link-local address"),
    ("http://0xA9FEA9FE/", "resolves to 169.254.169.254, a link-local address"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is a shared"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("https://127.0.0.1:8443/feed?token=x", "127.0.0.1 is a loopback address"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED_URLS)
def test_check_url_refuses_internal_addresses_with_a_clear_message(url, message):
    with pytest.raises(AddressRefused, match=message) as caught:
        check_url(url, allow_private=False)
    text = str(caught.value)
    assert text.startswith("refused: ")
    assert "NOTIFIER_ALLOW_PRIVATE_HOSTS" in text
    assert "\n" not in text


def test_check_url_refuses_the_octal_form_the_way_the_os_reads_it():
    # glibc reads 0177.0.0.1 as 127.0.0.1; a resolver that does not must still not let it through.
    with pytest.raises((AddressRefused, ResolveError)) as caught:
        check_url("http://0177.0.0.1/", allow_private=False)
    if isinstance(caught.value, AddressRefused):
        assert "127.0.0.1, a loopback address" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("file:///etc/passwd", UnsupportedScheme, "unsupported scheme: file:// (only http and https)"),
        ("ftp://x/", UnsupportedScheme, "unsupported scheme: ftp://"),
        ("gopher://x/", UnsupportedScheme, "unsupported scheme: gopher://"),
        ("javascript:alert(1)", UnsupportedScheme, "unsupported scheme: javascript://"),
        ("example.com/feed.xml", UnsupportedScheme, "a URL without a scheme"),
        ("http:///nohost", InvalidURL, "has no host"),
        ("http://[::1/", InvalidURL, "invalid URL"),
    ],
)
def test_check_url_refuses_what_is_not_an_http_url(url, error, message):
    with pytest.raises(error) as caught:
        check_url(url, allow_private=True)
    assert message in str(caught.value)
    assert isinstance(caught.value, netguard.GuardError)


@pytest.mark.parametrize("url", ["http://93.184.215.14/", "https://[2606:4700:4700::1111]/feed"])
def test_check_url_accepts_a_public_literal(url):
    check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/feed.xml", "http://localhost/", "http://10.1.2.3/"])
def test_allow_private_lets_internal_hosts_through(url):
    check_url(url, allow_private=True)


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """Public names cannot be resolved on this machine: answer them from a table."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        if not answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_public_name_resolves_to_its_checked_addresses(monkeypatch):
    fake_dns(monkeypatch, {"news.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    addresses = resolve_public("news.example", 443, allow_private=False)
    assert addresses == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    check_url("https://news.example/rss", allow_private=False)


def test_one_internal_answer_refuses_the_whole_name(monkeypatch):
    fake_dns(monkeypatch, {"rebind.example": ["93.184.215.14", "169.254.169.254"]})
    with pytest.raises(AddressRefused, match="rebind.example resolves to 169.254.169.254, a link-local"):
        check_url("http://rebind.example/", allow_private=False)


def test_a_name_that_does_not_resolve_is_a_dns_error(monkeypatch):
    fake_dns(monkeypatch, {"gone.example": []})
    with pytest.raises(ResolveError, match="dns: cannot resolve gone.example"):
        check_url("http://gone.example/feed", allow_private=False)


def test_a_custom_policy_replaces_the_standard_rule():
    only_loopback_one = lambda ip: ip == ipaddress.ip_address("127.0.0.1")  # noqa: E731
    resolve_public("127.0.0.1", 80, allow_private=False, policy=only_loopback_one)
    with pytest.raises(AddressRefused, match="127.0.0.2 is a loopback address"):
        resolve_public("127.0.0.2", 80, allow_private=True, policy=only_loopback_one)


def test_check_literal_refuses_non_canonical_numbers_whatever_the_policy():
    # aiohttp skips its resolver for such hosts; socket would map them onto an address.
    with pytest.raises(AddressRefused, match="2852039166 is a non-canonical form of 169.254.169.254"):
        check_literal("2852039166", policy_for(True))
    with pytest.raises(AddressRefused, match="127.1 is a non-canonical form of 127.0.0.1"):
        check_literal("127.1", policy_for(True))


def test_check_literal_leaves_names_to_the_resolver():
    check_literal("localhost", policy_for(False))
    check_literal("0xa9fea9fe", policy_for(False))  # not numeric to aiohttp either: it is resolved


def resolve_with(resolver_args: dict, host: str):
    async def run():
        resolver = GuardedResolver(**resolver_args)
        try:
            return await resolver.resolve(host, 80, family=socket.AF_INET)
        finally:
            await resolver.close()

    return asyncio.run(run())


def test_the_resolver_refuses_a_name_with_an_internal_address():
    with pytest.raises(AddressRefused, match="localhost resolves to 127.0.0.1, a loopback address"):
        resolve_with({"allow_private": False}, "localhost")
    with pytest.raises(AddressRefused, match="0xa9fea9fe resolves to 169.254.169.254"):
        resolve_with({"allow_private": False}, "0xa9fea9fe")


def test_the_resolver_passes_internal_names_when_allowed():
    results = resolve_with({"allow_private": True}, "localhost")
    assert [result["host"] for result in results] == ["127.0.0.1"]


def test_the_resolver_obeys_an_injected_policy():
    loopback_one = lambda ip: ip == ipaddress.ip_address("127.0.0.1")  # noqa: E731
    assert resolve_with({"policy": loopback_one}, "0x7f000001")[0]["host"] == "127.0.0.1"
    with pytest.raises(AddressRefused, match="0x7f000002 resolves to 127.0.0.2"):
        resolve_with({"policy": loopback_one}, "0x7f000002")
