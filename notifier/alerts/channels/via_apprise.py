"""The Apprise channel: every notification service Apprise knows, one send per message.

One Apprise object per send: Apprise paces a reused e-mail object to one message every few
seconds (LIMITS.md), and a fresh object keeps one subscriber's URL from slowing another's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import apprise

from notifier.alerts.channels.base import DeliveryError, fresh_plugin
from notifier.alerts.render import Rendered
from notifier.core import netguard
from notifier.core.redact import looks_like_host, redact, redact_text, remember_secrets

# Schemes whose host is where Apprise really connects, so the address guard applies to it.
# Other services (tgram, slack, discord...) reach fixed public APIs and keep tokens in the host.
SELF_HOSTED = frozenset(
    "mailto mailtos json jsons xml xmls form forms ntfy ntfys mmost mmosts gotify gotifys rocket "
    "rockets apprise apprises mqtt mqtts matrix matrixs ncloud nclouds kodi kodis signal signals "
    "rsyslog syslog".split()
)


def usable_plugin(url: str):
    """A fresh Apprise plugin for `url`, or a permanent DeliveryError when Apprise cannot use it."""
    plugin = fresh_plugin(url)
    if plugin is None:
        raise DeliveryError(f"not a notification URL Apprise understands: {redact(url)}", permanent=True)
    return plugin


def target_hosts(url: str, plugin) -> list[tuple[str, int]]:
    """The (host, port) pairs Apprise will connect to for this URL, for the address guard."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SELF_HOSTED:
        return []
    hosts = [getattr(plugin, "smtp_host", None), getattr(plugin, "host", None)]
    port = getattr(plugin, "port", None) or 0
    return [(h, port) for h in dict.fromkeys(hosts) if h and looks_like_host(h)]


def check_notify_url(url: str, allow_private: bool) -> None:
    """Refuse a URL Apprise cannot use or that points at an internal address."""
    remember_secrets(url)  # from here on, any log line holding a piece of it is masked
    plugin = usable_plugin(url)
    for host, port in target_hosts(url, plugin):
        try:
            netguard.resolve_public(host, port, allow_private)
        except Exception as exc:  # noqa: BLE001 - every guard failure is a refusal here
            raise DeliveryError(f"{redact(url)}: {redact_text(str(exc))}", permanent=True) from None


def send_via_apprise(url: str, message: Rendered, allow_private: bool) -> None:
    """Send one rendered alert to one URL, or raise DeliveryError with a reason free of secrets."""
    check_notify_url(url, allow_private)
    sender = apprise.Apprise()
    sender.add(usable_plugin(message.url_for_apprise))  # the same URL, plus channel parameters
    with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as captured:
        ok = sender.notify(title=message.title, body=message.body, body_format=message.body_format)
    if not ok:
        reason = " ".join(captured.getvalue().split())[-300:] or "the service refused the message"
        raise DeliveryError(redact_text(reason))
