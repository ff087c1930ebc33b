"""The benchmarks' newsroom (benchmarks/newsroom.py): its stories must be told apart by the service,
or a freshness or rss2email figure would count alerts the service rightly never sends."""

from __future__ import annotations

import itertools

from benchmarks.newsroom import KEEP, WORD, Newsroom
from notifier.feeds.parse import parse_feed
from notifier.stories import cluster, match, terms
from tests.feedserver import FeedServer


def test_no_two_stories_share_enough_terms_to_be_taken_for_one_event():
    with FeedServer() as server:
        rooms = [Newsroom(server, 3, seed=1), Newsroom(server, 2, seed=1, prefix="/other")]
        rooms[0].publish(0)
        items = [item for room in rooms for feed in room.items for item in feed]
    # cluster_place.lua scores a pair only when it shares MIN_SHARED terms, short words not counted
    seen = [
        {t for t in terms.terms_of(item.title, item.summary).all() if not terms.is_short(t)} for item in items
    ]
    most = max(len(a & b) for a, b in itertools.combinations(seen, 2))
    assert most < cluster.MIN_SHARED
    assert len({item.title for item in items}) == len(items)


def test_a_feed_is_news_sized_and_every_story_matches_the_one_topic():
    with FeedServer() as server:
        room = Newsroom(server, 1, seed=2)
        title, _ = room.publish(0)
        body = room.body(0)
    parsed = parse_feed(body, feed_id="f", url=room.url(0), content_type="application/rss+xml")
    assert len(parsed.stories) == KEEP and parsed.stories[0].title == title
    assert 40_000 < len(body) < 70_000
    expression = match.compile_expression(WORD)
    texts = [match.index_text(match.story_text(s.title, s.summary)) for s in parsed.stories]
    assert all(match.matches(expression, text) for text in texts)
