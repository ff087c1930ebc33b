"""Render a story for one notification URL and send it through Apprise.

One Apprise object per send: Apprise paces a reused e-mail object to one message every few
seconds (LIMITS.md), and a fresh object keeps one subscriber's URL from slowing another's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import apprise

from notifier import netguard
from notifier.redact import looks_like_host, redact, redact_text, remember_secrets
from notifier.render import Rendered, render_for
from notifier.settings import get_settings

# Schemes whose host is where Apprise really connects, so the address guard applies to it.
# Other services (tgram, slack, discord...) reach fixed public APIs and keep tokens in the host.
SELF_HOSTED = {
    "mailto",
    "mailtos",
    "json",
    "jsons",
    "xml",
    "xmls",
    "form",
    "forms",
    "ntfy",
    "ntfys",
    "mmost",
    "mmosts",
    "gotify",
    "gotifys",
    "rocket",
    "rockets",
    "apprise",
    "apprises",
    "mqtt",
    "mqtts",
    "matrix",
    "matrixs",
    "ncloud",
    "nclouds",
    "kodi",
    "kodis",
    "signal",
    "signals",
    "rsyslog",
    "syslog",
}


class DeliveryError(Exception):
    """A send failed. `permanent` means retrying cannot help (bad URL, refused host)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def render(url: str, story: dict) -> Rendered:
    """The story made right for this URL's channel (notifier.render), without topics or links."""
    return render_for(url, story, [], get_settings())


def load_plugin(url: str):
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
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


def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL Apprise cannot use or that points at an internal address."""
    remember_secrets(url)  # from here on, any log line holding a piece of it is masked
    plugin = load_plugin(url)
    for host, port in target_hosts(url, plugin):
        try:
            netguard.resolve_public(host, port, allow_private)
        except Exception as exc:  # noqa: BLE001 - every guard failure is a refusal here
            raise DeliveryError(f"{redact(url)}: {redact_text(str(exc))}", permanent=True) from None


def send(url: str, story: dict, allow_private: bool, rendered: Rendered | None = None) -> None:
    """Send one alert to one URL, or raise DeliveryError with a reason free of secrets.

    `rendered` (notifier.render.render_delivery) adds the matched topics and unsubscribe link.
    """
    check_target(url, allow_private)
    message = rendered or render(url, story)
    plugin = load_plugin(message.url_for_apprise)  # the same URL, plus channel parameters
    sender = apprise.Apprise()
    sender.add(plugin)
    with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as captured:
        ok = sender.notify(title=message.title, body=message.body, body_format=message.body_format)
    if not ok:
        reason = " ".join(captured.getvalue().split())[-300:] or "the service refused the message"
        raise DeliveryError(redact_text(reason))


def digest_story(stories: list[dict]) -> dict:
    """Several held alerts as one message: a count for a title, a line per story."""
    lines = [f"• {s['title']}" + (f" — {s['link']}" if s.get("link") else "") for s in stories]
    return {
        "id": "digest",
        "title": f"{len(stories)} new stories for you",
        "link": None,
        "summary": "\n".join(lines),
        "published": None,
        "digest": stories,
    }


def send_digest(url: str, stories: list[dict], allow_private: bool) -> None:
    send(url, digest_story(stories), allow_private)
