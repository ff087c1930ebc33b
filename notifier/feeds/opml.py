"""OPML: the list of feeds other readers export and import.

Reading is safe against hostile files: expat never fetches external entities, and any entity
declaration (the billion-laughs family) or external entity reference stops the parse at once,
before anything is expanded, as defusedxml does by default. A bare `<!DOCTYPE opml>` is allowed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from xml.parsers import expat

import redis

from notifier.core.netguard import GuardError, check_url
from notifier.models import Feed
from notifier.settings import Settings
from notifier.stories import store

__all__ = ["ImportReport", "OpmlError", "OutlineFeed", "import_feeds", "read_opml", "write_opml"]

# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DNS_AT_ONCE = 8  # checking a URL resolves its host: a few lookups in flight, not 500 in a row


class OpmlError(ValueError):
    """The file is not OPML we can read; the message is one line, with line and column if known."""


@dataclass(frozen=True)
class OutlineFeed:
    url: str
    name: str
    interval: int | None = None


@dataclass(frozen=True)
class ImportReport:
    imported: int
    present: int
    refused: tuple[tuple[str, str], ...]  # (url, why)


# --- reading -----------------------------------------------------------------------------------


def read_opml(data: bytes) -> list[OutlineFeed]:
    """Every outline with an `xmlUrl`, at any depth of categories, each URL once (first wins)."""
    root = _parse(data)
    if root.tag.lower() != "opml":
        raise OpmlError(f"not an OPML file: the root element is <{root.tag}>, not <opml>")
    feeds: dict[str, OutlineFeed] = {}
    for outline in root.iter("outline"):
        feed = _outline_feed({k.lower(): v for k, v in outline.attrib.items()})
        if feed and feed.url not in feeds:
            feeds[feed.url] = feed
    return list(feeds.values())


def _outline_feed(attrs: dict[str, str]) -> OutlineFeed | None:
    url = attrs.get("xmlurl", "").strip()
    if not url:
        return None  # a category, or a link to a web page
    name = (attrs.get("title") or attrs.get("text") or "").strip()
    return OutlineFeed(url=url, name=name or url, interval=_interval(attrs.get("interval")))


def _interval(value: str | None) -> int | None:
    # Not part of OPML; read when a hand-written file carries it, never written.
    return int(value) if value and value.strip().isdigit() and int(value) > 0 else None


def _parse(data: bytes) -> ET.Element:
    parser = expat.ParserCreate()
    builder = ET.TreeBuilder()
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.EntityDeclHandler = _refuse_entities
    parser.UnparsedEntityDeclHandler = _refuse_entities
    parser.ExternalEntityRefHandler = _refuse_entities
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(f"not valid XML: {expat.ErrorString(exc.code)} at {_where(exc)}") from None
    except _EntityRefused:
        where = f"line {parser.CurrentLineNumber}, column {parser.CurrentColumnNumber + 1}"
        raise OpmlError(f"refused: the file declares XML entities (at {where})") from None
    return builder.close()


class _EntityRefused(Exception):
    pass


def _refuse_entities(*_args) -> None:
    raise _EntityRefused


def _where(exc: expat.ExpatError) -> str:
    return f"line {exc.lineno}, column {exc.offset + 1}"


# --- writing -----------------------------------------------------------------------------------


def write_opml(feeds: list[Feed], now: float | None = None) -> bytes:
    """OPML 2.0: a head with title and dateCreated, one `type="rss"` outline per feed."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "notifier feeds"
    ET.SubElement(head, "dateCreated").text = formatdate(now, usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = _NOT_XML.sub("", feed.name)
        ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=_NOT_XML.sub("", feed.url))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# --- importing ---------------------------------------------------------------------------------


def import_feeds(
    r: redis.Redis, outlines: list[OutlineFeed], settings: Settings, step: Callable[[], None] = lambda: None
) -> ImportReport:
    """Add each outline that passes the address guard; a refused one does not stop the others."""
    imported = present = 0
    refused: list[tuple[str, str]] = []
    for outline, why in _checked(outlines, settings.allow_private_hosts):
        if why:
            refused.append((outline.url, why))
        elif r.hexists("feeds:byurl", outline.url):
            present += 1
        else:
            store.add_feed(r, outline.url, outline.name, _poll_interval(outline, settings))
            imported += 1
        step()
    return ImportReport(imported=imported, present=present, refused=tuple(refused))


def _checked(outlines: list[OutlineFeed], allow_private: bool) -> Iterator[tuple[OutlineFeed, str | None]]:
    with ThreadPoolExecutor(max_workers=_DNS_AT_ONCE) as pool:
        yield from zip(outlines, pool.map(lambda o: _refusal(o.url, allow_private), outlines), strict=True)


def _refusal(url: str, allow_private: bool) -> str | None:
    try:
        check_url(url, allow_private)
    except (GuardError, ValueError) as exc:
        return str(exc)
    return None


def _poll_interval(outline: OutlineFeed, settings: Settings) -> int:
    return max(outline.interval or settings.default_interval, settings.min_interval)
