"""The Apprise URL parameters a channel takes from an alert: e-mail headers (`+Name=value`), Slack's
block mode, and ntfy's click, priority and tags; parameters already in the subscriber's URL win."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, unquote

from notifier.models import Topic


def apprise_params(name: str, url: str, data: dict, topics: Sequence[Topic | str], headers: dict) -> dict:
    if name == "email":
        return {f"+{k}": v for k, v in headers.items()}  # Apprise's mailto sends `+Name=value` as a header
    if name == "slack":
        return {"blocks": "yes"}  # block mode posts our mrkdwn as it is; legacy mode escapes it again
    return _ntfy_params(url, data, topics) if name == "ntfy" else {}


def _ntfy_params(url: str, data: dict, topics: Sequence[Topic | str]) -> dict:
    """Click, priority and tags from the story; parameters already in the subscriber's URL win."""
    urgent = any(getattr(t, "urgent", False) for t in topics)
    tags = ["rotating_light" if urgent else "newspaper"]
    tags += ["event-" + data["event"]] if data.get("event") else []  # one tag for every alert of an event
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
