"""The address guard: feeds and notification targets may only reach the public internet.

Checked at `add` time (`check_url`) and again on every connection (`GuardedResolver`), so a
name that later resolves to an internal address, or a redirect to one, is refused too.
Every address a name resolves to must pass: one internal answer refuses the whole name.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

__all__ = [
    "AddressPolicy",
    "AddressRefused",
    "GuardError",
    "GuardedResolver",
    "InvalidURL",
    "ResolveError",
    "UnsupportedScheme",
    "check_addresses",
    "check_literal",
    "check_scheme",
    "check_hop",
    "check_url",
    "is_public_address",
    "policy_for",
    "resolve_public",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
"""Decides whether one address may be connected to; `policy_for` gives the standard ones."""
_literal = lru_cache(maxsize=1024)(ipaddress.ip_address)  # every send to an IP checks it: ~7 % of one

ALLOWED_SCHEMES = ("http", "https")
_HINT = "set NOTIFIER_ALLOW_PRIVATE_HOSTS to allow"

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_BENCHMARK = ipaddress.IPv4Network("198.18.0.0/15")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_PLAIN_CHECKS = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
)


class GuardError(Exception):
    """A URL or address the guard will not let us reach; the message is one line."""


class AddressRefused(GuardError):
    """The host is, or resolves to, an address that is not on the public internet."""


class UnsupportedScheme(GuardError):
    """Only http and https URLs are fetched or posted to."""


class InvalidURL(GuardError):
    """The URL has no host, or cannot be parsed at all."""


class ResolveError(GuardError):
    """The host name does not resolve."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries and would reach: mapped, compatible, 6to4, NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if 1 < int(ip) < 2**32 or ip in _NAT64:  # IPv4-compatible (::a.b.c.d) or NAT64
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _v6_reason(ip: ipaddress.IPv6Address) -> str | None:
    if ip in _TEREDO:
        return "a Teredo tunnel address"
    if ip in _NAT64_LOCAL:
        return "a local-use NAT64 address"
    if ip.is_site_local:
        return "a site-local address"
    return _common_reason(ip)


def _common_reason(ip: IPAddress) -> str | None:
    if ip.version == 4 and ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.version == 4 and ip in _BENCHMARK:
        return "a benchmarking address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _reason(ip: IPAddress) -> str | None:
    """Why `ip` is not public ("a loopback address"), or None when it is."""
    inner = _embedded_v4(ip) if ip.version == 6 else None
    if inner is not None:
        why = _reason(inner)
        return f"an IPv6 form of {inner}, {why}" if why else None
    for attribute, why in _PLAIN_CHECKS:
        if getattr(ip, attribute):
            return why
    if ip.version == 6:
        return _v6_reason(ip)
    return _common_reason(ip)


def is_public_address(ip: IPAddress) -> bool:
    return _reason(ip) is None


def policy_for(allow_private: bool) -> AddressPolicy:
    return (lambda ip: True) if allow_private else is_public_address


def _refusal(host: str, ip: IPAddress) -> AddressRefused:
    why = _reason(ip) or "not allowed by the address policy"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host.strip("[]")) == ip:  # a literal: no "resolves to"
            return AddressRefused(f"refused: {host} is {why} ({_HINT})")
    return AddressRefused(f"refused: {host} resolves to {ip}, {why} ({_HINT})")


def check_addresses(host: str, addresses: Iterable[str], policy: AddressPolicy) -> None:
    """Raise AddressRefused unless every address `host` resolved to passes `policy`."""
    for text in addresses:
        ip = ipaddress.ip_address(text)
        if not policy(ip):
            raise _refusal(host, ip)


def resolve_public(
    host: str, port: int, allow_private: bool, *, policy: AddressPolicy | None = None
) -> list[str]:
    """Resolve `host` as the OS does (decimal, hex and octal IPv4 forms included); check every answer."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolveError(f"dns: cannot resolve {host} ({_strerror(exc)})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    check_addresses(host, addresses, policy or policy_for(allow_private))
    return addresses


def _strerror(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def check_scheme(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host; raise UnsupportedScheme or InvalidURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"invalid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}://" if scheme else "a URL without a scheme"
        raise UnsupportedScheme(f"unsupported scheme: {shown} (only http and https)")
    if not parts.hostname:
        raise InvalidURL(f"invalid URL: {scheme}:// URL has no host")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def check_url(url: str, allow_private: bool, *, policy: AddressPolicy | None = None) -> None:
    """The `feed add` / `subscriber add` check: http(s), a host, and only public addresses."""
    _, host, port = check_scheme(url)
    resolve_public(host, port, allow_private, policy=policy)


def check_hop(url: str, policy: AddressPolicy) -> None:
    """Check one request or redirect target without DNS: http(s), a host, and, when the host
    is an IP literal, its address. Names are checked by `GuardedResolver` as they connect."""
    _, host, _ = check_scheme(url)
    check_literal(host, policy)


def _looks_numeric(host: str) -> bool:
    # aiohttp's own test for "an IP literal, skip the resolver": digits and dots, or a colon.
    return ":" in host or host.replace(".", "").isdigit()


def check_literal(host: str, policy: AddressPolicy) -> None:
    """Check a host that is an IP literal. aiohttp never sends those to the resolver, so the
    fetch layer calls this for every hop; names are left to `GuardedResolver`."""
    if not _looks_numeric(host):
        return
    try:
        ip = _literal(host.strip("[]"))
    except ValueError:
        raise AddressRefused(f"refused: {host} is {_non_canonical(host)}") from None
    if not policy(ip):
        raise _refusal(host, ip)


def _non_canonical(host: str) -> str:
    try:  # inet_aton reads the decimal, hex and octal forms as the OS would
        return f"a non-canonical form of {socket.inet_ntoa(socket.inet_aton(host))}"
    except OSError:
        return "not a canonical IP address"


class GuardedResolver(AbstractResolver):
    """aiohttp's threaded resolver, refusing a name when any of its addresses fails the policy.

    The connector connects to exactly the addresses returned here (no second lookup), and it
    asks again for every new connection, so each redirect hop is checked as well.
    """

    def __init__(
        self,
        allow_private: bool = False,
        *,
        policy: AddressPolicy | None = None,
        inner: AbstractResolver | None = None,
    ) -> None:
        self._inner = inner or ThreadedResolver()
        self._policy = policy or policy_for(allow_private)
        self._check = policy is not None or not allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._check:
            check_addresses(host, (result["host"] for result in results), self._policy)
        return results

    async def close(self) -> None:
        await self._inner.close()
