"""Templates for alerts: a sandboxed Jinja2 with one escaper per channel markup.

Every `{{ }}` goes through its template's escaper (autoescape for `.html`, entities for Slack
mrkdwn, backslashes for Markdown), so an operator's template (in `$NOTIFIER_DATA_DIR/templates`)
is safe by default; a broken one falls back to ours. `fit` shortens plain text until the
rendered body fits a channel's limit, so no cut ever lands inside a tag or an entity.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from notifier.settings import Settings

log = logging.getLogger(__name__)

BUILTIN = Path(__file__).parent / "templates"

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


def fit(settings: Settings, template: str, data: dict, limit: int, count_bytes: bool = False) -> str:
    """Render; if too long, shorten the plain summary, then the title, then drop the link."""
    measure = (lambda s: len(s.encode())) if count_bytes else len

    def fits() -> bool:
        return measure(_tidy(render_template(settings, template, data))) <= limit

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
    body = _tidy(render_template(settings, template, data))
    if measure(body) > limit and template.endswith(".txt"):
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
