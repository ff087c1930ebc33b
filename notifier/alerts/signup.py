"""How readers arrive: an e-mail address confirmed by a signed link (double opt-in), or a
browser's push subscription. Nothing is sent to an address before it is confirmed but the one
confirmation mail, and those are rate-limited per address and per client address, so the form
cannot be used to bomb a mailbox.

A pending sign-up is `signup:{nonce}` (address and topics) for CONFIRM_TTL; its link carries the
nonce and our HMAC of it, and works once. Confirming an address that already has a reader adds
the topics to that reader instead of making a second one; so does a browser subscribing again.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from urllib.parse import quote

import redis

from notifier.alerts import links, pacing, readers, subscribers
from notifier.alerts.render import Rendered
from notifier.core.refusals import Refused, Throttled
from notifier.models import Subscriber, url_hash
from notifier.settings import Settings
from notifier.stories import store

CONFIRM_TTL = 2 * 24 * 3600
PER_ADDRESS = pacing.Rate(1 / 600, 2)  # two confirmation mails at once, then one per ten minutes
PER_CLIENT = pacing.Rate(10 / 3600, 10)  # sign-ups from one client address: ten an hour
EMAIL = re.compile(r"[^@\s<>\"',;()\[\]\\]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class NotConfigured(Refused):
    """E-mail sign-up needs NOTIFIER_MAIL_URL."""


def start_email_signup(
    r: redis.Redis, settings: Settings, email: str, topics: list[str], client: str
) -> None:
    """Send one confirmation mail; the reader exists only once its link is followed."""
    email = email.strip()
    if not settings.mail_url:
        raise NotConfigured("e-mail sign-up is not set up on this server (NOTIFIER_MAIL_URL)")
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise Refused("that does not look like an e-mail address")
    topics = checked_topics(r, topics)
    url = mail_url(settings, email)
    subscribers.check_target(url, settings)
    throttle(r, [("addr", email.lower()), ("client", client)], (PER_ADDRESS, PER_CLIENT))
    nonce = secrets.token_hex(16)
    r.set(f"signup:{nonce}", json.dumps({"email": email, "topics": topics}), ex=CONFIRM_TTL)
    link = f"{settings.base_url}/confirm/{nonce}{links.sign(r, 'confirm', nonce)}"
    error = send_confirmation(url, link, topics, settings)
    if error is not None:
        r.delete(f"signup:{nonce}")
        raise Refused(f"the confirmation mail could not be sent: {error}")


def confirm_signup(r: redis.Redis, settings: Settings, token: str) -> str:
    """Follow a confirmation link: the reader now exists; return their manage token."""
    nonce, signature = token[:32], token[32:]
    valid = re.fullmatch(r"[0-9a-f]{64}", token) and links.signed_by_us(r, "confirm", nonce, signature)
    raw = r.getdel(f"signup:{nonce}") if valid else None
    if raw is None:
        raise store.NotFound("this confirmation link is not valid any more (used, expired or mistyped)")
    pending = json.loads(raw)
    return links.manage_token(r, join(r, settings, mail_url(settings, pending["email"]), pending["topics"]))


def subscribe_push(
    r: redis.Redis, settings: Settings, endpoint: str, p256dh: str, auth: str, topics: list[str], client: str
) -> tuple[str, str]:
    """A browser that granted permission: its subscription becomes a reader.

    Returns the reader's manage token and this browser's channel id (to stop it later)."""
    from notifier.alerts.channels import webpush

    try:
        url = webpush.subscription_url(endpoint, p256dh, auth)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    topics = checked_topics(r, topics)
    subscribers.check_target(url, settings)
    throttle(r, [("client", client)], (PER_CLIENT,))
    return links.manage_token(r, join(r, settings, url, topics)), url_hash(url)


def join(r: redis.Redis, settings: Settings, url: str, topics: list[str]) -> str:
    """The reader behind this address, made now or given these topics too; their name."""
    name = r.hget(readers.ADDRESS_INDEX, readers.address_key(url))
    if name and store.get_subscriber(r, name, missing_ok=True):
        readers.attach(r, name, url, topics)
        return name
    name = f"reader-{secrets.token_hex(6)}"
    subscribers.create(r, settings, Subscriber(name=name, urls=(url,), topics=tuple(topics)))
    r.hset(readers.ADDRESS_INDEX, readers.address_key(url), name)
    return name


def checked_topics(r: redis.Redis, topics: list[str]) -> list[str]:
    topics = list(dict.fromkeys(t for t in topics if t))
    if not topics:
        raise Refused("choose at least one topic")
    subscribers.refuse_unknown_topics(r, topics)
    return topics


def throttle(r: redis.Redis, keys: list[tuple[str, str]], rates: tuple[pacing.Rate, ...]) -> None:
    """Take a token from every bucket or none; Throttled says how long to wait."""
    buckets = [
        (f"rl:signup:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:16]}", rate)
        for (kind, value), rate in zip(keys, rates, strict=True)
    ]
    wait = pacing.take_all(r, buckets)
    if wait > 0:
        raise Throttled(f"too many sign-ups; try again in {wait:.0f} s", retry_after=wait)


def mail_url(settings: Settings, email: str) -> str:
    """The operator's outgoing mail URL, addressed to this reader."""
    base = settings.mail_url or ""
    return f"{base}{'&' if '?' in base else '?'}to={quote(email, safe='@')}"


def send_confirmation(url: str, link: str, topics: list[str], settings: Settings):
    from notifier.alerts.sending import send_one

    body = (
        f"Someone, hopefully you, asked for breaking-news alerts about {', '.join(topics)} "
        "at this address.\n\n"
        f"To start receiving them, confirm here:\n{link}\n\n"
        "If it was not you, ignore this mail: nothing more will be sent to you."
    )
    message = Rendered("Confirm your news alerts", body, "text", url, {}, "email")
    return send_one(url, message, settings)
