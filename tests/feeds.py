"""Feed documents for tests: the real ones in tests/corpus/ and small realistic RSS built item by item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

# The one place that says where the corpus is: it travels with the repo (see corpus/README.md).
CORPUS = Path(__file__).resolve().parent / "corpus"


def corpus_file(name: str) -> Path:
    """A file of the corpus, e.g. "feeds/bbc-world-2026.xml"; a clone without it fails, never skips."""
    path = CORPUS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the test corpus ships with the repo in tests/corpus/", pytrace=False)
    return path


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
