"""One story, rendered safe and right for the service behind one notification URL.

The Apprise plugin behind the URL picks a channel; a channel is a template, limits and an
escaper. Every `{{ }}` goes through its template's escaper (autoescape for `.html`, entities for
Slack mrkdwn, backslashes for Markdown), so an operator's template is safe by default. Text is
cut while still plain, never after markup, so no cut lands inside a tag or an entity. Bodies
written in a chat service's own markup go to Apprise with no declared format (`body_format=None`),
which Apprise passes through instead of converting them a second time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import redis
from jinja2 import FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from notifier import ledger, store
from notifier.models import Topic
from notifier.plugins import plugin_for
from notifier.settings import Settings

log = logging.getLogger(__name__)

BUILTIN = Path(__file__).parent / "templates"
SECRET_KEY, TOKENS_KEY = "secret:unsubscribe", "unsubscribe:tokens"
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
_MENTION = re.compile(r"@(?=\w)")  # @everyone, @channel, @here: a zero-width space defuses them


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown(text: str) -> str:
    return _MENTION.sub("@\u200b", re.sub(r"([\\`*_~|<>\[\](){}#+\-.!])", r"\\\1", text))


def _mattermost(text: str) -> str:
    """Markdown, but & < > | as entities: Mattermost reads Slack's <url|label> before Markdown."""
    escaped = _MENTION.sub("@\u200b", re.sub(r"([\\`*_~\[\](){}#+\-.!])", r"\\\1", text))
    return _mrkdwn(escaped).replace("|", "&#124;")


# Per template: the escaper of every `{{ }}`, the characters a URL must not carry raw inside its
# link markup, and how a URL writes `&`. `.html` templates use autoescape; `.txt` need nothing.
MARKUP = {
    "slack.mrkdwn": (_mrkdwn, "<>| ", "&amp;"),
    "mattermost.md": (_mattermost, "<>|() ", "&amp;"),  # its <url|label> becomes [label](url)
    "discord.md": (_markdown, "()<>[] \\", "&"),
}


@dataclass(frozen=True)
class Links:
    manage_url: str | None = None
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    body_format: str | None  # None: hand the body to Apprise as it is
    url_for_apprise: str  # the subscriber's URL plus this channel's parameters
    headers: dict  # e-mail headers, also carried in url_for_apprise
    channel: str = "text"


def channel_for(url: str) -> str:
    return _channel_of(plugin_for(url))


def render_for(
    url: str, story: dict, topics: Sequence[Topic | str], settings: Settings, links: Links | None = None
) -> Rendered:
    plugin = plugin_for(url)
    name = _channel_of(plugin)
    channel = CHANNELS[name]
    title_limit, body_limit = _limits(name, channel, plugin)
    data = template_data(story, topics, links or Links()) | {"show_title": title_limit == 0}
    title = data["story"]["title"]
    if channel.template is None:
        document = {**data["story"], "topics": data["topics"], **dataclasses.asdict(links or Links())}
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        working = {**data, "story": dict(data["story"])}  # _fit shortens what it renders
        body = _fit(settings, channel, working, body_limit) or cut(title, body_limit)
    headers = _list_unsubscribe(data["unsubscribe_url"]) if name == "email" else {}
    params = _apprise_params(name, url, data, topics, headers)
    title = cut(title, title_limit) if title_limit else ""
    return Rendered(title, body, channel.body_format, with_params(url, params), headers, name)


def render_delivery(r: redis.Redis, settings: Settings, subscriber: str, url: str, story: dict) -> Rendered:
    """What a ledger row sends: the topics the story matched and this URL's unsubscribe link."""
    matched = set(r.hkeys(f"story:{story.get('id')}:matches"))
    topics = [t for t in store.list_topics(r) if t.name in matched]
    known = store.get_subscriber(r, subscriber, missing_ok=True) is not None
    links = links_for(r, settings, subscriber, url) if known else None
    return render_for(url, story, topics, settings, links)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with "…". For plain text only."""
    if len(text) <= limit:
        return text
    if limit < 2:
        return ""
    head = text[: limit - 1]
    space = max(head.rfind(" "), head.rfind("\n"))
    if not text[limit - 1].isspace() and space > limit // 2:  # else CJK or a long URL: cut here
        head = head[:space]
    return head.rstrip(" \n,;:-–—") + "…"


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


# --- unsubscribe tokens ------------------------------------------------------------------------


def links_for(r: redis.Redis, settings: Settings, subscriber: str, url: str) -> Links:
    """Links for one subscriber's URL; records the token so the API can resolve it."""
    url_hash = ledger.url_hash(url)
    token = unsubscribe_token(r, subscriber, url_hash)
    r.hset(TOKENS_KEY, token, json.dumps({"subscriber": subscriber, "url_hash": url_hash}))
    base = settings.base_url
    return Links(manage_url=f"{base}/", unsubscribe_url=f"{base}/unsubscribe/{token}")


def links_many(
    r: redis.Redis, settings: Settings, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], Links]:
    """links_for a whole batch of (subscriber, url) in three round trips."""
    r.set(SECRET_KEY, secrets.token_hex(32), nx=True)
    secret = r.get(SECRET_KEY)
    key = secret.encode() if isinstance(secret, str) else secret
    links, tokens, base = {}, {}, settings.base_url
    for subscriber, url in set(pairs):
        url_hash = ledger.url_hash(url)
        token = hmac.new(key, f"{subscriber}\0{url_hash}".encode(), hashlib.sha256).hexdigest()[:32]
        tokens[token] = json.dumps({"subscriber": subscriber, "url_hash": url_hash})
        links[(subscriber, url)] = Links(manage_url=f"{base}/", unsubscribe_url=f"{base}/unsubscribe/{token}")
    if tokens:
        r.hset(TOKENS_KEY, mapping=tokens)
    return links


def unsubscribe_token(r: redis.Redis, subscriber: str, url_hash: str) -> str:
    r.set(SECRET_KEY, secrets.token_hex(32), nx=True)  # made once, shared by every process
    secret = r.get(SECRET_KEY)
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{subscriber}\0{url_hash}".encode(), hashlib.sha256).hexdigest()[:32]


def resolve_unsubscribe(r: redis.Redis, token: str) -> tuple[str, str] | None:
    """(subscriber, url_hash) for a token we issued; None for anything else."""
    raw = r.hget(TOKENS_KEY, token) if re.fullmatch(r"[0-9a-f]{32}", token) else None
    if raw is None:
        return None
    entry = json.loads(raw)
    expected = unsubscribe_token(r, entry["subscriber"], entry["url_hash"])
    return (entry["subscriber"], entry["url_hash"]) if hmac.compare_digest(expected, token) else None


# --- templates ---------------------------------------------------------------------------------


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox stops attribute tricks; this also stops `'x' * 10**9` eating the memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" or not all(isinstance(v, int | float) for v in (left, right)):
            raise SecurityError(f"{operator!r} is not allowed on these values in templates")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=16)
def sandbox(directory: str) -> Sandbox:
    env = Sandbox(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a typo in an override is an error, so it falls back
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.clear()
    env.filters["url"] = _url_filter
    return env


def render_template(settings: Settings, name: str, data: dict) -> str:
    """The operator's template of that name if it works, else ours."""
    override = Path(settings.data_dir) / "templates" / name
    if override.is_file():
        try:
            return sandbox(str(override.parent)).get_template(name).render(data)
        except Exception as exc:  # noqa: BLE001 - any broken override falls back to ours
            _warn_broken(override, exc)
    return sandbox(str(BUILTIN)).get_template(name).render(data)


def _fit(settings: Settings, channel: Channel, data: dict, limit: int) -> str:
    """Render; if too long, shorten the plain summary, then the title, then drop the link."""
    measure = (lambda s: len(s.encode())) if channel.count_bytes else len

    def fits() -> bool:
        return measure(_tidy(render_template(settings, channel.template, data))) <= limit

    story = data["story"]
    for field in ("summary", "title"):
        if not fits() and story[field]:
            text, low, high = story[field], 0, len(story[field]) - 1
            while low < high:  # the longest cut that fits; escaping makes the rendered size vary
                middle = (low + high + 1) // 2
                story[field] = cut(text, middle)
                low, high = (middle, high) if fits() else (low, middle - 1)
            story[field] = cut(text, low)
    if not fits():
        story["link"] = None
    body = _tidy(render_template(settings, channel.template, data))
    if measure(body) > limit and channel.template.endswith(".txt"):
        body = cut(body, limit - (measure(body) - len(body)))  # plain text: safe to cut as a whole
    return body


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


@pass_context
def _finalize(context, value):
    if value is None:
        return ""
    escape = MARKUP.get(context.name, (None,))[0]
    return value if escape is None or isinstance(value, Markup) else escape(str(value))


@pass_context
def _url_filter(context, url):
    """A URL made safe to put inside this template's link markup."""
    if url is None or (context.name or "").endswith(".html"):
        return url  # autoescape escapes quotes and ampersands in attributes
    _, breakers, amp = MARKUP.get(context.name, (None, " ", "&"))
    url = "".join(f"%{ord(c):02X}" if c in breakers or c.isspace() else c for c in str(url))
    return Markup(url.replace("&", amp))


_warned: set[tuple[str, float]] = set()


def _warn_broken(path: Path, exc: Exception) -> None:
    key = (str(path), path.stat().st_mtime)
    if key not in _warned:
        _warned.add(key)
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        log.warning("template %s is broken (%s); using the built-in one", path, reason)


# --- channels and Apprise URL parameters -------------------------------------------------------


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


def _list_unsubscribe(unsubscribe_url: str | None) -> dict:
    """RFC 8058 one-click unsubscribe: mail providers POST to the link, no page visit needed."""
    if not unsubscribe_url:
        return {}
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _apprise_params(name: str, url: str, data: dict, topics: Sequence[Topic | str], headers: dict) -> dict:
    if name == "email":
        return {f"+{k}": v for k, v in headers.items()}  # Apprise's mailto sends `+Name=value` as a header
    if name == "slack":
        return {"blocks": "yes"}  # block mode posts our mrkdwn as it is; legacy mode escapes it again
    return _ntfy_params(url, data, topics) if name == "ntfy" else {}


def _ntfy_params(url: str, data: dict, topics: Sequence[Topic | str]) -> dict:
    """Click, priority and tags from the story; parameters already in the subscriber's URL win."""
    urgent = any(getattr(t, "urgent", False) for t in topics)
    tags = ["rotating_light" if urgent else "newspaper"]
    tags += [t for t in (re.sub(r"[^\w-]", "_", n) for n in data["topics"]) if t.isascii()][:4]
    params = {"priority": "high" if urgent else None, "tags": ",".join(tags), "click": _click(data)}
    taken = _query_keys(url)
    if "xtags" in taken:
        taken.add("tags")
    return {k: v for k, v in params.items() if v and k not in taken}


def _click(data: dict) -> str | None:
    # Apprise percent-encodes the click URL once more (a `%` becomes `%25`): hand it the decoded
    # form when that encodes back to the very same URL; otherwise the link stays in the body only.
    link = data["story"]["link"]
    plain = unquote(link) if link else ""
    return plain if plain and plain.isascii() and quote(plain, safe=":/?@&=#") == link else None


def _query_keys(url: str) -> set[str]:
    query = url.split("?", 1)[1] if "?" in url else ""
    return {unquote(pair.split("=", 1)[0]).lower() for pair in query.split("&") if pair}


def with_params(url: str, params: dict) -> str:
    """Append Apprise URL parameters; of two with one name, Apprise takes the later.

    Apprise unquotes a parameter value twice (parsing the query, then in the plugin), so values
    are quoted twice to arrive exactly as given.
    """
    if not params:
        return url
    query = "&".join(f"{k}={quote(quote(v, safe=''), safe='')}" for k, v in params.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"
