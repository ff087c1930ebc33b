"""The Apprise channel: every notification service Apprise knows, one send per message.

One Apprise object per send: Apprise paces a reused e-mail object to one message every few
seconds (LIMITS.md), and a fresh object keeps one subscriber's URL from slowing another's.
Every send runs inside `socketguard.connections_checked`: whatever service the URL names, each
connection Apprise's plugin makes (and each redirect it follows) goes only to an address the
guard allowed. `check_notify_url` refuses what it can see early, at `subscriber add`.

An e-mail keeps our Message-ID (alerts/mail_threads.py) through Apprise too: its mailto plugin
always writes `make_msgid()`'s after the URL's `+Header`s, so a Message-ID given as a header would
be a second one. `make_msgid` in that plugin's module is wrapped once: inside a send of ours it
returns the id in a ContextVar (Apprise copies the caller's context into the threads it sends
from), everywhere else it is the standard one.
"""

from __future__ import annotations

import contextvars
import inspect
from email.utils import make_msgid
from functools import lru_cache

import apprise
import apprise.plugins.email.base as apprise_email

from notifier.alerts.channels.base import DeliveryError, fresh_plugin
from notifier.alerts.render import Rendered
from notifier.core import netguard, socketguard
from notifier.core.redact import redact, redact_text, remember_secrets

_MESSAGE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("notifier_message_id", default=None)


def _message_id(*args, **kwargs) -> str:
    return _MESSAGE_ID.get() or make_msgid(*args, **kwargs)


apprise_email.make_msgid = _message_id


def usable_plugin(url: str):
    """A fresh Apprise plugin for `url`, or a permanent DeliveryError when Apprise cannot use it."""
    plugin = fresh_plugin(url)
    if plugin is None:
        raise DeliveryError(f"not a notification URL Apprise understands: {redact(url)}", permanent=True)
    return plugin


def connection_hosts(plugin) -> list[tuple[str, int]]:
    """The (host, port) pairs this URL may make Apprise connect to, from Apprise's own parse.

    A service with a fixed endpoint of its own (Telegram, Discord, Slack...) keeps tokens where
    a host would be; its URL's host is not where it connects, so only its SMTP host counts.
    """
    hosts = [getattr(plugin, "smtp_host", None)]
    if not _fixed_endpoint(type(plugin)):
        hosts.append(getattr(plugin, "host", None))
    port = getattr(plugin, "port", None) or 0
    names = [h.strip("[]") for h in hosts if isinstance(h, str) and h.strip("[]")]  # IPv6 literals
    return [(h, port if isinstance(port, int) else 0) for h in dict.fromkeys(names)]


@lru_cache(maxsize=512)
def _fixed_endpoint(kind: type) -> bool:
    """The plugin posts to a URL of its own and never reads the host of ours."""
    fixed = getattr(kind, "notify_url", None)
    if not (isinstance(fixed, str) and fixed.startswith(("http://", "https://"))):
        return False
    try:
        return "self.host" not in inspect.getsource(kind)
    except (OSError, TypeError):
        return False


def check_notify_url(url: str, allow_private: bool) -> None:
    """Refuse a URL Apprise cannot use or that points at an internal address."""
    remember_secrets(url)  # from here on, any log line holding a piece of it is masked
    plugin = usable_plugin(url)
    for host, port in connection_hosts(plugin):
        try:
            netguard.resolve_public(host, port, allow_private)
        except netguard.ResolveError:
            continue  # a token or topic where a host would be: nothing to connect to, nothing to refuse
        except netguard.GuardError as exc:
            raise DeliveryError(f"{redact(url)}: {redact_text(str(exc))}", permanent=True) from None


def send_via_apprise(url: str, message: Rendered, allow_private: bool, policy=None) -> None:
    """Send one rendered alert to one URL, or raise DeliveryError with a reason free of secrets.

    `policy` (tests) replaces allow_private's address rule."""
    check_notify_url(url, allow_private)
    sender = apprise.Apprise()
    sender.add(usable_plugin(message.url_for_apprise))  # the same URL, plus channel parameters
    rule = policy or netguard.policy_for(allow_private)
    own_id = _MESSAGE_ID.set(message.headers.get("Message-ID") if message.channel == "email" else None)
    with (
        socketguard.connections_checked(rule) as refused,
        apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as captured,
    ):
        try:
            ok = sender.notify(title=message.title, body=message.body, body_format=message.body_format)
        finally:
            _MESSAGE_ID.reset(own_id)
    if refused:
        raise DeliveryError(f"{redact(url)}: {redact_text(refused[0])}", permanent=True)
    if not ok:
        reason = " ".join(captured.getvalue().split())[-300:] or "the service refused the message"
        raise DeliveryError(redact_text(reason))
