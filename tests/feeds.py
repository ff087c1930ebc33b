"""Small, realistic RSS documents built in tests, item by item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    guid: str | None = None
    summary: str = ""
    published: datetime | None = None


def rss(items: list[Item], title: str = "Test News", link: str = "https://news.example.com/") -> bytes:
    entries = []
    for item in items:
        parts = [f"<title>{escape(item.title)}</title>", f"<link>{escape(item.link)}</link>"]
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.summary:
            parts.append(f"<description>{escape(item.summary)}</description>")
        when = item.published or datetime.now(UTC)
        parts.append(f"<pubDate>{format_datetime(when)}</pubDate>")
        entries.append("<item>" + "".join(parts) + "</item>")
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>test</description>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()
