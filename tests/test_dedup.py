"""Claiming stories in a real Redis: new once, whatever guid, feed or tracking it comes back with."""

from __future__ import annotations

from notifier.feeds.parse import parse_feed
from notifier.stories.claim import claim_stories, load_story
from tests.feeds import Item, rss

TTL = {"story_ttl": 3600, "title_ttl": 600, "pending_at": 0.0}


def stories(feed_id, *items):
    return parse_feed(rss(list(items)), feed_id=feed_id, url="https://news.example.com/feed").stories


def claim(r, feed_id, *items, baseline=False):
    return claim_stories(r, feed_id, stories(feed_id, *items), baseline=baseline, **TTL)


STORY = Item(
    "Earthquake of magnitude 7 strikes off the coast", "https://news.example.com/quake?id=1", guid="q1"
)


def test_it_claims_a_new_story_once(r):
    assert len(claim(r, "f1", STORY)) == 1
    assert claim(r, "f1", STORY) == []


def test_the_first_poll_of_a_feed_is_a_baseline_that_alerts_nothing(r):
    assert claim(r, "f1", STORY, baseline=True) == []
    assert claim(r, "f1", STORY) == []
    assert r.zcard("stories:pending") == 0


def test_a_republished_story_with_a_new_guid_is_not_new(r):
    claim(r, "f1", STORY)
    assert claim(r, "f1", Item(STORY.title, STORY.link, guid="q1-again")) == []


def test_the_same_link_with_tracking_in_another_feed_is_not_new(r):
    claim(r, "f1", STORY)
    tracked = Item(
        "A different headline for it", "https://NEWS.example.com/quake/?utm_source=x&id=1#a", guid="z"
    )
    assert claim(r, "f2", tracked) == []


def test_the_same_long_title_in_another_feed_is_not_new(r):
    claim(r, "f1", STORY)
    assert (
        claim(
            r, "f2", Item("EARTHQUAKE of magnitude 7 strikes off the coast!", "https://b.example/x", guid="b")
        )
        == []
    )


def test_a_short_title_never_swallows_another_story(r):
    claim(r, "f1", Item("Live updates", "https://a.example/live/1", guid="l1"))
    assert len(claim(r, "f2", Item("Live updates", "https://b.example/live/2", guid="l2"))) == 1


def test_a_duplicate_is_listed_as_another_source_of_the_first_story(r):
    [sid] = claim(r, "f1", STORY)
    claim(r, "f2", Item("Other title entirely here", STORY.link, guid="x"))
    assert r.smembers(f"story:{sid}:sources") == {"f1", "f2"}


def test_items_without_guid_or_link_are_still_claimed_once(r):
    item = Item("Breaking", "javascript:void(0)")
    assert len(claim(r, "f1", item)) == 1
    assert claim(r, "f1", item) == []


def test_two_identical_items_in_one_poll_make_one_story(r):
    assert len(claim(r, "f1", STORY, Item(STORY.title, STORY.link, guid="q1-dup"))) == 1


def test_a_new_story_waits_in_pending_until_fanned_out(r):
    [sid] = claim(r, "f1", STORY)
    assert r.zscore("stories:pending", sid) == 0.0
    assert load_story(r, sid)["title"] == STORY.title
