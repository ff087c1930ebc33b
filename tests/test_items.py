"""Only unseen items reach feedparser: a body cut at its items must read exactly like the whole.

Every feed of the corpus and every document of feedparser's own suite is parsed whole and then
with some of its items taken as seen already; the items left must give the same feedparser
entries and the same Stories. Documents the cut refuses are parsed whole by the service, so they
are counted here, never compared.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import feedparser
import pytest

from notifier.feeds import items
from notifier.feeds.fetch import FetchResult
from notifier.feeds.parse import parse_feed
from notifier.feeds.poll import parse_if_changed
from notifier.models import Feed
from tests.feeds import CORPUS
from tests.test_feedparser_suite import suite_documents

URL = "https://example.com/feed"
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def entries(body: bytes) -> feedparser.FeedParserDict:
    headers = {"content-location": URL, "content-type": "application/xml"}
    doc = feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    return doc


def new_ones(split: items.Split) -> list[set[str]]:
    """Which items to take as new: the first, the last, the first and a middle one, all but one."""
    digests, n = split.digests, len(split.digests)
    picks = [{digests[0]}, {digests[-1]}, {digests[0], digests[n // 2]}, set(digests[1:])]
    return [pick for pick in picks if pick and pick != set(digests)] or [set(digests)]


def mismatches(name: str, body: bytes) -> list[str]:
    """What the cut body reads differently from the whole; [] when the cut was refused."""
    split, whole = items.split_items(body), entries(body)
    if split is None or whole.bozo:  # refused, or a document the service would not trust a cut of
        return []
    problems = []
    stories = parse_feed(body, feed_id="f", url=URL, now=NOW).stories
    for new in new_ones(split):
        cut = items.unseen(split, set(split.digests) - new)
        wanted = [i for i, digest in enumerate(split.digests) if digest in new]
        trimmed = entries(cut)
        if trimmed.bozo or trimmed.entries != [whole.entries[i] for i in wanted]:
            problems.append(f"{name}: {len(new)} new of {len(split.items)}: entries differ")
            continue
        got = parse_feed(cut, feed_id="f", url=URL, now=NOW).stories
        if len(got) > len(wanted) or any(story not in stories for story in got):
            problems.append(f"{name}: {len(new)} new of {len(split.items)}: stories differ")
    return problems


def test_every_corpus_feed_reads_the_same_cut_at_its_items_as_whole():
    paths = sorted((CORPUS / "feeds").iterdir())
    cut = [p.name for p in paths if items.split_items(p.read_bytes())]
    assert len(cut) >= len(paths) * 3 // 4, f"only {len(cut)} of {len(paths)} corpus feeds can be cut"
    assert [m for p in paths for m in mismatches(p.name, p.read_bytes())] == []


def test_every_document_of_feedparsers_suite_reads_the_same_cut_as_whole():
    documents = [(name, body) for name, body in suite_documents() if items.split_items(body)]
    assert len(documents) > 200, "the cut should apply to most of the suite's feeds with items"
    assert [m for name, body in documents for m in mismatches(name, body)] == []


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="utf-16"?><rss><channel><item><title>a</title></item></channel></rss>',
        "<rss><channel><item><title>a</title></item></channel></rss>".encode("utf-16"),
        b"<rss><channel><item><title>a</title><item>b</item></item></channel></rss>",
        b"<rss><channel><item>a</item><!-- <item>b</item> --><item>c</item></channel></rss>",
        b"<rss><channel><item><description><![CDATA[</item>]]></description></item></channel></rss>",
        b"<rss><channel><item>a</item><!-- never closed <item>b</item></channel></rss>",
        b"<rss><channel><item>a</item><ttl>5</ttl><item>b</item></channel></rss>",
        b'<rdf:RDF xmlns:rdf="x"><channel/><item>a</item><item>b</item></rdf:RDF>',
        b'<!DOCTYPE rss [<!ENTITY e "<item>x</item>">]><rss><channel><item>a</item>&e;</channel></rss>',
        b"<rss><channel><ITEM>a</ITEM></channel></rss>",
        b"<feed><entry>a</entry><item>b</item></feed>",
        b"<rss><channel><item/><item>a</item></channel></rss>",
        b"<rss><channel><title>nothing yet</title></channel></rss>",
    ],
)
def test_a_body_the_cut_might_misread_is_refused(body):
    assert items.split_items(body) is None


def test_a_charset_that_is_not_ascii_compatible_refuses_the_cut():
    body = b"<rss><channel><item>a</item></channel></rss>"
    assert items.split_items(body, "application/rss+xml; charset=utf-8") is not None
    assert items.split_items(body, "application/rss+xml; charset=UTF-16") is None


def test_only_unseen_items_are_kept_and_all_seen_means_nothing_to_parse():
    body = b"<rss><channel><title>T</title>\n<item>a</item>\n<item>b</item>\n</channel></rss>"
    split = items.split_items(body)
    assert split.items == (b"<item>a</item>", b"<item>b</item>")
    assert (
        items.unseen(split, {split.digests[0]})
        == b"<rss><channel><title>T</title>\n<item>b</item>\n</channel></rss>"
    )
    assert items.unseen(split, set(split.digests)) is None
    assert items.known_digests(items.stored_digests(split)) == set(split.digests)


def test_a_cut_that_reads_oddly_is_read_whole_and_its_digests_forgotten():
    def item(n: int, title: str) -> bytes:
        return f"<item><title>{title}</title><link>https://n.example/{n}</link></item>".encode()

    body = b"<rss><channel><title>T</title>" + b"".join(item(n, f"Story {n} of the day") for n in range(5))
    body += b"</channel></rss>"
    known = items.stored_digests(items.split_items(body))
    feed = Feed("f", URL, "F", 60, baseline_done=True, item_digests=known)

    def reading(body: bytes):
        result = FetchResult(URL, URL, 200, body, None, None, "application/xml", None, None, None, None, 0)
        return parse_if_changed(feed, result)

    parsed, _, digests = reading(body.replace(b"<title>T</title>", b"<title>T, updated</title>"))
    assert parsed is None and digests == known  # nothing new: no parse at all
    broken = item(9, "Broken &nbsp story without its end")  # an undefined entity: not well-formed XML
    parsed, _, digests = reading(body.replace(b"<title>T</title>", b"<title>T</title>" + broken))
    assert parsed.bozo and digests == ""  # read whole, and read whole next time too
    assert len(parsed.stories) == 6
