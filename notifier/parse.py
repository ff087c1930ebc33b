"""Feed bytes -> ParsedFeed of plain Stories: feedparser reads the XML, we own text, links, dates and identity."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
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
_INLINE = {"a", "abbr", "b", "cite", "code", "em", "font", "i", "mark", "q", "s", "small", "span", "strong"}
_INLINE |= {"sub", "sup", "time", "u"}
# Apostrophes, dots and commas join ("U.S.", "Russia's", "1,000") so either spelling gives one title key.
_JOINERS = set("'’‘ʼ.,·")
# What html.parser would change: a tag, comment or declaration, or a character reference.
_MARKUP = re.compile(r"<[A-Za-z/!?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);?")
# C0/C1 controls and lone surrogates: they break e-mail headers and JSON.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# UTF-8 read as latin-1/cp1252 always leaves a lead byte (Â..ô) before a continuation-range character;
# ftfy costs ~80 µs a title, so it only runs where this cheap test says mojibake is possible.
_MOJIBAKE_HINT = re.compile(
    "[\xc2-\xf4][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)  # noqa: E501
_FTFY = ftfy.TextFixerConfig(  # repair the encoding only; curly quotes, ligatures and widths are not errors
    unescape_html=False,
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    explain=False,
)
# Month abbreviations feedparser does not know (pt, it, es, fr, de); none means two months.
_MONTHS = dict.fromkeys(["gen", "ene", "janv"], "Jan") | dict.fromkeys(["fev", "févr", "fevr"], "Feb")
_MONTHS |= dict.fromkeys(["mär", "mrz"], "Mar") | dict.fromkeys(["abr", "avr"], "Apr")
_MONTHS |= dict.fromkeys(["mai", "mag"], "May") | {"giu": "Jun", "juin": "Jun", "lug": "Jul", "juil": "Jul"}
_MONTHS |= dict.fromkeys(["ago", "août"], "Aug") | dict.fromkeys(["set", "sept"], "Sep")
_MONTHS |= dict.fromkeys(["out", "ott", "okt"], "Oct") | dict.fromkeys(["dez", "dic", "déc"], "Dec")
_EN_MONTHS = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
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
    stories = [story for entry in doc.entries if (story := _story(entry, feed_id, url, now))]
    info = doc.feed
    return ParsedFeed(
        title=_cap(plain_text(info.get("title") or "", limit=TITLE_MAX), TITLE_MAX),
        link=_safe_url(info.get("link"), url),
        hub=_rel_link(info, "hub", url),
        self_url=_rel_link(info, "self", url),
        stories=stories,
        bozo=_bozo(doc),
    )


def _story(entry: dict, feed_id: str, base: str, now: datetime) -> Story | None:
    title = _cap(plain_text(entry.get("title") or "", limit=TITLE_MAX), TITLE_MAX)
    link = _safe_url(entry.get("link"), base)
    guid = (entry.get("id") or "").strip() or None
    if not (title or link or guid):
        return None  # nothing to show and nothing to recognise it by
    link_key = normalise_link(link)
    return Story(
        id=story_id(feed_id, guid, link_key, title),
        feed_id=feed_id,
        title=title,
        link=link,
        published=_published(entry, now),
        summary=_summary(entry),
        guid=guid,
        link_key=link_key,
        title_key=normalise_title(title),
    )


def _summary(entry: dict) -> str:
    markup = entry.get("summary") or next((c.get("value") for c in entry.get("content") or ()), "")
    return _cap(plain_text(markup or "", limit=SUMMARY_MAX), SUMMARY_MAX)


def _rel_link(info: dict, rel: str, base: str) -> str | None:
    hrefs = (link.get("href") for link in info.get("links") or () if link.get("rel") == rel)
    return next((url for href in hrefs if (url := _safe_url(href, base))), None)


def _bozo(doc: dict) -> str | None:
    if not doc.get("bozo"):
        return None
    error = doc.get("bozo_exception")
    return _cap(" ".join(f"{type(error).__name__}: {error}".split()), 300)


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
    """`link` made absolute against `base`, or None unless it is http(s) with a host."""
    if not link or not isinstance(link, str):
        return None
    try:
        parts = urlsplit(urljoin(base or "", link.strip().replace(" ", "%20")))
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return urlunsplit(parts)  # re-joined so the tabs and newlines urlsplit drops stay dropped


def normalise_link(url: str | None, base: str | None = None) -> str | None:
    """The link as an identity key: the same article under its usual variants gives the same key."""
    absolute = _safe_url(url, base)
    if absolute is None:
        return None
    parts = urlsplit(absolute)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # lower case, no userinfo
    if parts.port and parts.port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{parts.port}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(sorted(p for p in pairs if not _is_tracking(p[0])), quote_via=quote)
    # Always https in the key: outlets move between http and https, and links in older feeds lag behind.
    return urlunsplit(("https", host, parts.path.rstrip("/"), query, ""))


def _is_tracking(name: str) -> bool:
    name = name.casefold()
    return name.startswith("utm_") or name in _TRACKING


def normalise_title(title: str) -> str | None:
    """The title as an identity key: case, punctuation and mojibake removed; None when under four words."""
    text = unicodedata.normalize("NFKC", _repair(title or "")).casefold()
    words = "".join(map(_title_char, text)).split()
    return " ".join(words) if len(words) >= MIN_TITLE_WORDS else None


@lru_cache(maxsize=8192)
def _title_char(char: str) -> str:
    if char in _JOINERS:
        return ""
    # Letters, digits and combining marks of any script (Kannada or Urdu vowel signs are marks).
    return char if unicodedata.category(char)[0] in "LNM" else " "


def plain_text(html: str, limit: int | None = None) -> str:
    """Markup -> one line of text: tags gone, <script>/<style> dropped, entities decoded, mojibake
    repaired, whitespace collapsed. With `limit`, reading stops once ~4x that much text is collected."""
    text = _strip_tags(html, limit) if _MARKUP.search(html) else html
    if _MARKUP.search(text):
        text = _strip_tags(text, limit)  # double-escaped markup (&lt;p&gt; or &amp;amp;) needs a second pass
    text = " ".join(_CONTROL.sub(" ", _repair(text)).split())
    # A trailing no-break space double-encoded is "Â\xa0"; feedparser trims the \xa0 and leaves the "Â".
    return text[:-1].rstrip() if text.endswith("Â") else text


def _repair(text: str) -> str:
    return ftfy.fix_text(text, _FTFY) if _MOJIBAKE_HINT.search(text) else text


def _strip_tags(markup: str, limit: int | None) -> str:
    try:
        return _TextCollector(limit).run(markup)
    except AssertionError:  # html.parser gives up on some malformed <!...> declarations
        return _TextCollector(limit).run(markup.replace("<!", "&lt;!"))


class _TextCollector(HTMLParser):
    CHUNK = 4096

    def __init__(self, limit: int | None) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.enough = 4 * limit if limit else None  # whitespace collapses, so read some spare
        self.hidden = 0

    def run(self, markup: str) -> str:
        for start in range(0, len(markup), self.CHUNK):
            self.feed(markup[start : start + self.CHUNK])
            if self.enough and self.size >= self.enough:
                return "".join(self.parts)  # no close(): it would flush a half-read tag as text
        self.close()
        return "".join(self.parts)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag not in _INLINE:
            self.handle_data(" ")  # block elements separate words: "</p><p>" is a space

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag not in _INLINE:
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag not in _INLINE:
            self.handle_data(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)
            self.size += len(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):  # CDATA kept inside escaped HTML is still text
            self.handle_data(data[6:])


def _cap(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when one is near, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip() + "…"


def _published(entry: dict, now: datetime) -> datetime | None:
    raw = entry.get("published") or entry.get("updated") or ""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    moment = _from_struct(parsed)
    # feedparser drops a 12-hour clock's PM and gives up on non-English month names.
    if raw and (moment is None or raw.rstrip()[-2:].upper() in ("AM", "PM")):
        moment = _fallback_date(raw) or moment
    return moment if moment and moment <= now + FUTURE_SLACK else None


def _from_struct(parsed) -> datetime | None:
    try:
        return datetime(*parsed[:6], tzinfo=UTC) if parsed else None
    except (TypeError, ValueError, OverflowError):
        return None


def _fallback_date(raw: str) -> datetime | None:
    """Dates like "Seg, 24 Set 2018 19:42:40 -0300" or "Sat, Dec 16 2023 02:02:33 PM" (no zone: UTC)."""
    words = [_MONTHS.get(w.casefold().rstrip("."), w) for w in raw.replace(",", " ").split()[:8]]
    if words and words[0].isalpha() and words[0] not in _EN_MONTHS:
        words = words[1:]  # a weekday, in whatever language
    text = " ".join(words)
    for layout in _CLOCK_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
