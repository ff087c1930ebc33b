"""The client's address, for rate limits: the peer, or, when the peer is one of our own reverse
proxies (NOTIFIER_TRUSTED_PROXIES), the address that proxy says it was talking to.

X-Forwarded-For is read right to left and each hop is believed only while it was added by a
proxy we trust: a client can write anything at the left end, so the first address from the
right that is not one of our proxies is the client.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

from notifier.settings import get_settings


def client_ip(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    proxies = get_settings().proxy_networks
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def _trusted(address: str, proxies) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)
