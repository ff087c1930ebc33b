"""Feed bytes -> ParsedFeed of plain Stories: feedparser reads XML; text, links, dates, identity are ours."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import ftfy

from notifier.models import Story

__all__ = ["ParsedFeed", "normalise_link", "normalise_title", "parse_feed", "plain_text", "story_id"]

TITLE_MAX = 500
SUMMARY_MAX = 1000
MIN_TITLE_WORDS = 4  # "Live updates" or "Morning briefing" must never identify a story
FUTURE_SLACK = timedelta(days=2)

_TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc", "_hsmi"}
_TRACKING |= {"ref_src", "cmpid", "smid", "ocid", "at_medium", "at_campaign"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HIDDEN = {"script", "style", "template"}
_INLINE = set("a abbr b cite code em font i mark q s small span strong sub sup time u".split())
# Apostrophes, dots and commas join ("U.S.", "Russia's", "1,000") so either spelling gives one title key.
_JOINERS = set("'’‘ʼ.,·")
# What html.parser would change: a tag, comment or declaration, or a character reference.
_MARKUP = re.compile(r"<[A-Za-z/!?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);?")
# C0/C1 controls and lone surrogates: they break e-mail headers and JSON.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# ftfy costs ~80 µs a title: run it only where UTF-8 read as cp1252 may have left a lead byte (Â..ô).
_MOJIBAKE_HINT = re.compile("[\xc2-\xf4][\x80-\xbf\u0152-\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]")
# Repair the encoding only: curly quotes, ligatures and full-width letters are not errors.
_FTFY_OFF = ("unescape_html", "uncurl_quotes", "fix_latin_ligatures", "fix_character_width", "explain")
_FTFY = ftfy.TextFixerConfig(**dict.fromkeys(_FTFY_OFF, False))
# Month names feedparser does not know (pt, it, es, de), January first; none means two months.
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LOCAL = "gen ene|fev|mär|abr|mai mag|giu|lug|ago|set|out ott okt||dez dic"
_MONTHS = {w: m for m, ws in zip(_EN_MONTHS, _LOCAL.split("|"), strict=True) for w in ws.split()}
_CLOCK_FORMATS = ("%b %d %Y %I:%M:%S %p", "%d %b %Y %I:%M:%S %p", "%b %d %Y %I:%M %p", "%d %b %Y %I:%M %p")


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    hub: str | None  # WebSub hub, <link rel="hub"> (Atom) or <atom:link rel="hub"> (RSS)
    self_url: str | None
    stories: list[Story]
    bozo: str | None  # feedparser's complaint about the document, one line


def parse_feed(
    body: bytes, *, feed_id: str, url: str, content_type: str | None = None, now: datetime | None = None
) -> ParsedFeed:
    """Parse a fetched body; `url` resolves relative links, `content_type` carries the HTTP charset."""
    doc = feedparser.parse(
        io.BytesIO(body),  # never the bytes themselves: feedparser tries a bytes/str argument as a file name
        response_headers={"content-location": url, "content-type": content_type or "application/xml"},
        # We make all text plain ourselves, so feedparser's HTML sanitising and URI rewriting inside
        # content is wasted work (~65 -> ~95 feeds/s). Item <link>s are still resolved against `url`.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    now = now or datetime.now(UTC)
    info, error = doc.feed, doc.get("bozo_exception") if doc.get("bozo") else None
    return ParsedFeed(
        title=plain_text(info.get("title") or "", TITLE_MAX),
        link=_safe_url(info.get("link"), url),
        hub=_rel_link(info, "hub", url),
        self_url=_rel_link(info, "self", url),
        stories=[story for entry in doc.entries if (story := _story(entry, feed_id, url, now))],
        bozo=" ".join(f"{type(error).__name__}: {error}".split())[:300] if error else None,
    )


def _story(entry: dict, feed_id: str, base: str, now: datetime) -> Story | None:
    title = plain_text(entry.get("title") or "", TITLE_MAX)
    link = _safe_url(entry.get("link"), base)
    guid = (entry.get("id") or "").strip() or None
    if not (title or link or guid):
        return None  # nothing to show and nothing to recognise it by
    link_key = normalise_link(link)
    markup = entry.get("summary") or (entry.get("content") or [{}])[0].get("value") or ""
    return Story(
        id=story_id(feed_id, guid, link_key, title),
        feed_id=feed_id,
        title=title,
        link=link,
        published=_published(entry, now),
        summary=plain_text(markup, SUMMARY_MAX),
        guid=guid,
        link_key=link_key,
        title_key=normalise_title(title),
    )


def _rel_link(info: dict, rel: str, base: str) -> str | None:
    hrefs = (link.get("href") for link in info.get("links") or () if link.get("rel") == rel)
    return next((url for href in hrefs if (url := _safe_url(href, base))), None)


def story_id(feed_id: str, guid: str | None, link_key: str | None, title: str) -> str:
    """A stable id: the feed's guid, else the normalised link, else the feed and the normalised title."""
    if guid:
        basis = f"g:{feed_id}\n{guid}"  # the newline keeps ("a", "bc") and ("ab", "c") apart
    elif link_key:
        basis = f"l:{link_key}"
    else:
        basis = f"t:{feed_id}\n{normalise_title(title) or ' '.join(title.casefold().split())}"
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _safe_url(link: str | None, base: str | None) -> str | None:
    if not isinstance(link, str) or not link:
        return None
    with suppress(ValueError):  # an unclosed IPv6 bracket; .port raises for a port out of range
        parts = urlsplit(urljoin(base or "", link.strip().replace(" ", "%20")))
        if parts.scheme in _DEFAULT_PORTS and parts.hostname and parts.port != -1:
            return urlunsplit(parts)  # re-joined, so the tabs and newlines urlsplit drops stay dropped
    return None


def normalise_link(url: str | None, base: str | None = None) -> str | None:
    """The link as an identity key: the same article under its usual variants gives the same key."""
    if (absolute := _safe_url(url, base)) is None:
        return None
    parts = urlsplit(absolute)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # lower case, no userinfo
    if parts.port and parts.port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{parts.port}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not (k.casefold() in _TRACKING or k.casefold().startswith("utm_"))]
    query = urlencode(sorted(kept), quote_via=quote)
    # Always https in the key: outlets move between http and https, and links in older feeds lag behind.
    return urlunsplit(("https", host, parts.path.rstrip("/"), query, ""))


def normalise_title(title: str) -> str | None:
    """The title as an identity key: case, punctuation and mojibake removed; None when under four words."""
    text = unicodedata.normalize("NFKC", _repair(title or "")).casefold()
    words = "".join(map(_title_char, text)).split()
    return " ".join(words) if len(words) >= MIN_TITLE_WORDS else None


@lru_cache(maxsize=8192)
def _title_char(char: str) -> str:
    # Keep letters, digits and combining marks of any script (Kannada or Urdu vowel signs are marks).
    return "" if char in _JOINERS else char if unicodedata.category(char)[0] in "LNM" else " "


def plain_text(html: str, limit: int | None = None) -> str:
    """Markup -> one line of text: tags gone, <script>/<style> dropped, entities decoded, mojibake
    repaired, whitespace collapsed; with `limit`, at most that many characters, cut at a word."""
    text = _strip_tags(html, limit) if _MARKUP.search(html) else html
    if _MARKUP.search(text):
        text = _strip_tags(text, limit)  # double-escaped markup (&lt;p&gt; or &amp;amp;) needs a second pass
    text = " ".join(_CONTROL.sub(" ", _repair(text)).split())
    # A trailing no-break space double-encoded is "Â\xa0"; feedparser trims the \xa0 and leaves the "Â".
    text = text[:-1].rstrip() if text.endswith("Â") else text
    return _cap(text, limit) if limit else text


def _repair(text: str) -> str:
    return ftfy.fix_text(text, _FTFY) if _MOJIBAKE_HINT.search(text) else text


def _strip_tags(markup: str, limit: int | None) -> str:
    # With a limit, 8 characters of markup per character wanted is plenty even for tag-heavy HTML,
    # and it keeps a megabyte of <content:encoded> from being parsed only to be cut.
    text = markup[: 8 * limit] if limit else markup
    collector = _TextCollector()
    try:
        collector.feed(text)
        if len(text) == len(markup):
            collector.close()  # not after a cut: close() would flush a half-read tag as text
    except AssertionError:  # html.parser gives up on some malformed <![...]> sections: read them as text
        return _strip_tags(markup.replace("<!", "&lt;!"), limit) if "<!" in markup else ""
    return "".join(collector.parts)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag not in _INLINE:
            self.handle_data(" ")  # block elements separate words: "</p><p>" is a space

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag not in _INLINE:
            self.handle_data(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):  # CDATA kept inside escaped HTML is still text
            self.handle_data(data[6:])


def _cap(text: str, limit: int) -> str:
    cut = text[: limit - 1]
    space = cut.rfind(" ")  # cut at a word when one ends near the limit
    return text if len(text) <= limit else (cut[:space] if space > limit * 0.8 else cut).rstrip() + "…"


def _published(entry: dict, now: datetime) -> datetime | None:
    # dict.get: FeedParserDict.get("updated...") falls back to "published..." with a DeprecationWarning.
    raw = dict.get(entry, "published") or dict.get(entry, "updated") or ""
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    moment = None
    with suppress(TypeError, ValueError, OverflowError):
        moment = datetime(*parsed[:6], tzinfo=UTC) if parsed else None
    # feedparser drops a 12-hour clock's PM and gives up on non-English month names.
    if raw and (moment is None or raw.rstrip()[-2:].upper() in ("AM", "PM")):
        moment = _fallback_date(raw) or moment
    return moment if moment and moment <= now + FUTURE_SLACK else None


def _fallback_date(raw: str) -> datetime | None:
    """Dates like "Seg, 24 Set 2018 19:42:40 -0300" or "Sat, Dec 16 2023 02:02:33 PM" (no zone: UTC)."""
    words = [_MONTHS.get(w.casefold().rstrip("."), w) for w in raw.replace(",", " ").split()[:8]]
    if words and words[0].isalpha() and words[0] not in _EN_MONTHS:
        words = words[1:]  # a weekday, in whatever language
    text = " ".join(words)
    for layout in _CLOCK_FORMATS:
        with suppress(ValueError):
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
    with suppress(TypeError, ValueError, IndexError, OverflowError):
        moment = parsedate_to_datetime(text)
        return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    return None
