"""What the CLI prints: tables for people, JSON for scripts. Printing only; nothing here reads
or changes Redis (but for the two old entry points at the end, kept for an older test).

Every piece of text from a feed or a user goes out as plain text: the console has markup and
emoji codes off, table cells are `Text` objects, and control characters (terminal escape
sequences, bidi overrides) are shown as `\\x1b`-style escapes instead of being obeyed.
"""

from __future__ import annotations

import json
import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from notifier.stories.views import (
    feed_json,
    iso_of_timestamp,
    story_json,
    subscriber_json,
    topic_json,
    utc_iso,
)

__all__ = ["feed_json", "iso_of_timestamp", "story_json", "subscriber_json", "utc_iso"]

console = Console(highlight=False, markup=False, emoji=False)

# C0 and C1 controls (tab and newline excepted), DEL, and the bidi overrides that reorder text.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(value) -> str:
    text = "-" if value is None else str(value)
    return CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def plain(value) -> Text:
    return Text(clean(value))


def say(*parts) -> None:
    """One line of plain text on stdout."""
    print(" ".join(clean(p) for p in parts))


def emit_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def emit_json_line(data) -> None:
    print(json.dumps(data, ensure_ascii=False))


def table(title: str, columns: list[str], rows: list[list]) -> None:
    out = Table(title=Text(title), title_justify="left")
    for column in columns:
        out.add_column(Text(column), overflow="fold")
    for row in rows:
        out.add_row(*[plain(value) for value in row])
    console.print(out)


def rows_table(title: str, keys: str, data: list[dict]) -> None:
    """A table of dicts: a column per key (space-separated), headed by the key in words."""
    columns = keys.split()
    table(title, [c.replace("_", " ") for c in columns], [[d[c] for c in columns] for d in data])


FEED_COLUMNS = "id name enabled interval last_success last_error next_poll interval_reason"
DELIVERY_COLUMNS = "id story subscriber target state attempts last_error note update_of"


# --- feeds, topics, subscribers ----------------------------------------------------------------


def print_feeds(feeds, as_json: bool) -> None:
    data = [feed_json(f) for f in feeds]
    if as_json:
        return emit_json(data)
    rows_table("feeds", FEED_COLUMNS, data)


def print_topics(topics, as_json: bool) -> None:
    if as_json:
        return emit_json([topic_json(t) for t in topics])
    rows = [[t.name, t.expr, t.urgent, t.min_sources, t.urgent_sources or None] for t in topics]
    table("topics", ["name", "match", "urgent", "min sources", "urgent sources"], rows)


def print_subscribers(subscribers, as_json: bool) -> None:
    data = [subscriber_json(s) for s in subscribers]
    if as_json:
        return emit_json(data)
    table(
        "subscribers",
        ["name", "notify", "topics", "quiet", "digest", "disabled"],
        [
            [
                d["name"],
                " ".join(d["notify"]),
                " ".join(d["topics"]),
                f"{d['quiet']} {d['tz']}" if d["quiet"] else None,
                d["digest"],
                " ".join(d["disabled"]) or None,
            ]
            for d in data
        ],
    )


# --- stories and deliveries --------------------------------------------------------------------


def print_stories(records: list[dict], feed_names: dict[str, str], as_json: bool) -> None:
    data = [story_json(s) for s in records]
    if as_json:
        return emit_json(data)
    table(
        "stories",
        ["id", "published", "feed", "title", "link"],
        [
            [s["id"], s["published"], feed_names.get(s["feed_id"], s["feed_id"]), s["title"], s["link"]]
            for s in data
        ],
    )


def print_story(detail: dict, as_json: bool) -> None:
    """`detail`: story_json plus sources, matched (topic -> terms) and deliveries."""
    if as_json:
        return emit_json(detail)
    console.print(Text(clean(detail["title"]), style="bold"))
    for label, value in (("link", detail["link"]), ("published", detail["published"])):
        say(f"{label}:", value)
    say("feed:", detail["feed_id"], " sources:", ", ".join(detail["sources"]) or "-")
    for topic, terms in detail["matched"].items():
        say(f"matched {topic}:", terms)
    print_event(detail)
    rows_table("deliveries", DELIVERY_COLUMNS, detail["deliveries"])


def print_event(detail: dict) -> None:
    """The same-event cluster: how many outlets carry it and how fast, and why some heard nothing."""
    event = detail.get("event")
    if event:
        say(
            "event:",
            detail["cluster"],
            f" {detail['cluster_size']} stories from {event['outlets']} outlets",
            f" ({event['outlets_within_10_min']} within 10 min, {event['outlets_within_30_min']} within 30)",
        )
        if event["joined"]:
            joined = event["joined"]
            say("joined:", joined["story"], f" score {joined['score']}:", " ".join(joined["terms"]))
    for reason, value in (detail.get("why_silent") or {}).items():
        say(f"{reason.replace('_', ' ')}:", value)
    for topic, why in (detail.get("urgent") or {}).items():
        say(f"{topic}:", why)
    for topic, why in (detail.get("held_back") or {}).items():
        say(f"held back by {topic} (--min-sources):", why)
    for d in detail.get("deliveries") or []:
        if d.get("update_of"):
            say(f"delivery {d['id']}: update of delivery {d['update_of']};", d["thread"])


def print_deliveries(rows, as_json: bool) -> None:
    """rows: deliveries as alerts/explain.py shows them (or Delivery objects)."""
    data = [d if isinstance(d, dict) else d.as_json() for d in rows]
    if as_json:
        return emit_json(data)
    rows_table("deliveries", DELIVERY_COLUMNS, data)


# --- status ------------------------------------------------------------------------------------


def print_status(data: dict, as_json: bool) -> None:
    if as_json:
        return emit_json(data)
    rows_table("feeds", FEED_COLUMNS, data["feeds"])
    depths = [(q, "?" if n is None else n) for q, n in data["queues"].items()]  # None: no broker
    table("queues", ["queue", "messages"], depths)
    table("deliveries", ["outcome", "count"], sorted(data["deliveries"].items()))
    waiting = [["deliveries", data["deliveries_waiting"]], ["stories", data["stories_waiting"]]]
    table("waiting", ["what", "how many"], waiting)
    failing = sorted(data["failing_urls"].items(), key=lambda kv: -kv[1])
    table("failing URLs", ["subscriber and target", "failed deliveries"], failing)
