"""One story, rendered safe and right for the service behind one notification URL.

The Apprise plugin behind the URL picks a channel; a channel is a template, limits and an
escaper (see `templating`); text is cut while still plain, never after markup. Bodies
written in a chat service's own markup go to Apprise with no declared format (`body_format=None`),
which Apprise passes through instead of converting them a second time.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from notifier.alerts.apprise_params import apprise_params, with_params
from notifier.alerts.channels import webpush
from notifier.alerts.channels.base import plugin_for
from notifier.alerts.follow_ups import update_title
from notifier.alerts.links import Links
from notifier.alerts.templating import cut, fit
from notifier.models import Topic
from notifier.settings import Settings

SMS_LIMIT = 160


@dataclass(frozen=True)
class Channel:
    template: str | None  # None: the body is built in code (json)
    title_limit: int  # 0: the title is part of the body and Apprise gets none
    body_limit: int
    body_format: str | None  # None: the body is already in the service's own markup
    count_bytes: bool = False  # ntfy's server limit is in bytes


CHANNELS = {
    "email": Channel("email.html", 200, 100_000, "html"),
    "slack": Channel("slack.mrkdwn", 0, 3000, None),  # one Block Kit text block holds 3000
    "mattermost": Channel("mattermost.md", 0, 3000, None),
    "telegram": Channel("telegram.html", 0, 4096, "html"),  # declared: Apprise keeps our blank lines
    "discord": Channel("discord.md", 0, 2000, None),
    "ntfy": Channel("ntfy.txt", 200, 4096, "text", count_bytes=True),
    "push": Channel("push.txt", 65, 240, "text"),
    "sms": Channel("sms.txt", 0, SMS_LIMIT, "text"),
    "json": Channel(None, 250, 100_000, None),
    "webpush": Channel(None, 120, 240, None),  # the service worker shows {title, body, url}
    "text": Channel("text.txt", 250, 4000, "text"),
}
SCHEMES = {
    "email": "mailto mailtos",
    "slack": "slack",
    "mattermost": "mmost mmosts",
    "telegram": "tgram",
    "discord": "discord",
    "ntfy": "ntfy ntfys",
    "json": "json jsons",
    "push": "pover pbul gotify gotifys fcm prowl join bark barks pjet pjets spush simplepush pushy "
    "pushme psafer psafers pushdeer pushdeers onesignal vapid wpush push gorush gorushs kumulos",
}
CHANNEL_OF_SCHEME = {s: channel for channel, schemes in SCHEMES.items() for s in schemes.split()}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    body_format: str | None  # None: hand the body to Apprise as it is
    url_for_apprise: str  # the subscriber's URL plus this channel's parameters
    headers: dict  # e-mail headers, also carried in url_for_apprise
    channel: str = "text"


def render_for(
    url: str, story: dict, topics: Sequence[Topic | str], settings: Settings, links: Links | None = None
) -> Rendered:
    plugin = None if webpush.supports(url) else plugin_for(url)
    name = "webpush" if webpush.supports(url) else _channel_of(plugin)
    channel = CHANNELS[name]
    title_limit, body_limit = _limits(name, channel, plugin)
    story = {**story, "title": update_title(name, story)}  # an update reads as one where it cannot thread
    data = template_data(story, topics, links or Links()) | {"show_title": title_limit == 0}
    data["event"] = story.get("event")
    title = data["story"]["title"]
    if name == "webpush":
        body = push_payload(data["story"], title_limit, body_limit, story.get("event"), "update_of" in story)
    elif channel.template is None:
        document = {**data["story"], "topics": data["topics"], **dataclasses.asdict(links or Links())}
        document |= {k: story[k] for k in ("event", "update_of") if story.get(k)}
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        working = {**data, "story": dict(data["story"])}  # fit shortens what it renders
        body = fit(settings, channel.template, working, body_limit, channel.count_bytes)
        body = body or cut(title, body_limit)
    headers = _list_unsubscribe(data["unsubscribe_url"]) | urgent_headers(topics) if name == "email" else {}
    params = apprise_params(name, url, data, topics, headers)
    title = cut(title, title_limit) if title_limit else ""
    return Rendered(title, body, channel.body_format, with_params(url, params), headers, name)


def push_payload(
    story: dict, title_limit: int, body_limit: int, event: str | None = None, update: bool = False
) -> str:
    """What our service worker shows: a title, a short body, and where a click leads. Tagged with
    the event, so an update replaces its first alert on the device (and, renotified, is heard)."""
    shown = {"title": cut(story["title"], title_limit), "body": cut(story["summary"], body_limit)}
    shown |= {"url": story["link"], "tag": event or story["id"]}
    return json.dumps(shown | ({"renotify": True} if update else {}), ensure_ascii=False)


# A stand-in for a subscriber's unsubscribe token while one rendering is shared: as long as a real
# token (32 hex digits), so every cut `fit` makes lands where it would, and unlike any story text.
_STAND_IN = secrets.token_hex(16)
_PAGE_STAND_IN = secrets.token_hex(16)  # the same for a subscriber's manage-page token


def render_shared(
    shared: dict, url: str, story: dict, topics: Sequence[Topic], settings: Settings, links: Links | None
) -> Rendered:
    """`render_for`, but rendered once per (channel, limits, story, topics) for a batch: each
    subscriber's unsubscribe and manage tokens are filled in afterwards. `shared` is the batch's
    cache. ntfy builds its parameters from the subscriber's URL, so it renders each time."""
    plugin = plugin_for(url)
    name = _channel_of(plugin)
    token = (links.unsubscribe_url or "").rpartition("/")[2] if links else ""
    page = (links.manage_url or "").rpartition("/")[2] if links else ""
    if name == "ntfy" or len(token) != len(_STAND_IN):
        return render_for(url, story, topics, settings, links)
    own_page = len(page) == len(_PAGE_STAND_IN)  # a manage token: filled in like the other
    page_key = None if own_page else links.manage_url
    key = (name, _limits(name, CHANNELS[name], plugin), story.get("id"), story.get("update_of"))
    key += (tuple(topics), page_key)
    if key not in shared:
        stand_in = Links(
            manage_url=links.manage_url[: -len(page)] + _PAGE_STAND_IN if own_page else links.manage_url,
            unsubscribe_url=links.unsubscribe_url[: -len(token)] + _STAND_IN,
        )
        shared[key] = render_for(url, story, topics, settings, stand_in)
    first = shared[key]

    def filled(text: str) -> str:
        text = text.replace(_STAND_IN, token)
        return text.replace(_PAGE_STAND_IN, page) if own_page else text

    headers = {name: filled(value) for name, value in first.headers.items()}
    params = apprise_params(name, url, {}, topics, headers)
    title, body = filled(first.title), filled(first.body)
    return Rendered(title, body, first.body_format, with_params(url, params), headers, name)


def template_data(story: dict, topics: Sequence[Topic | str], links: Links) -> dict:
    """The only things a template sees: plain strings, lists and None."""
    plain = {
        "id": story.get("id"),
        "feed": story.get("feed"),
        "title": " ".join(_CONTROL.sub("", str(story.get("title") or "")).split()) or "(untitled)",
        "link": web_link(story.get("link")),
        "summary": _CONTROL.sub("", str(story.get("summary") or "")).strip(),
        "published": story.get("published"),
        "source": story.get("source"),
    }
    names = [t if isinstance(t, str) else t.name for t in topics]
    return {"story": plain, "topics": names, **dataclasses.asdict(links)}


def web_link(link: str | None) -> str | None:
    """The link if it is an http(s) URL with a host: no javascript:, data: or file: ever."""
    link = (link or "").strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    return link if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _channel_of(plugin) -> str:
    if plugin is None:
        return "text"
    for attr in ("protocol", "secure_protocol"):
        schemes = getattr(plugin, attr, None) or ()
        for scheme in (schemes,) if isinstance(schemes, str) else schemes:
            if scheme in CHANNEL_OF_SCHEME:
                return CHANNEL_OF_SCHEME[scheme]
    return "sms" if 0 < _int(plugin.body_maxlen) <= SMS_LIMIT else "text"


def _int(value) -> int:
    return value if isinstance(value, int) else 0  # a few plugins compute their limits


def _limits(name: str, channel: Channel, plugin) -> tuple[int, int]:
    """A text or SMS service may take less than our default, or no title at all."""
    if name not in ("text", "sms") or plugin is None:
        return channel.title_limit, channel.body_limit
    title = channel.title_limit if _int(plugin.title_maxlen) > 0 else 0
    return title, min(channel.body_limit, _int(plugin.body_maxlen) or channel.body_limit)


def urgent_headers(topics: Sequence[Topic | str]) -> dict:
    """Mail readers flag a message with these (Outlook reads Importance, most others X-Priority)."""
    urgent = any(getattr(t, "urgent", False) for t in topics)
    return {"X-Priority": "1 (Highest)", "Importance": "high"} if urgent else {}


def _list_unsubscribe(unsubscribe_url: str | None) -> dict:
    """RFC 8058 one-click unsubscribe: mail providers POST to the link, no page visit needed."""
    if not unsubscribe_url:
        return {}
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
