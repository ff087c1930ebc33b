"""How often a feed is polled: adaptive to its publishing, polite to its server."""

import time
from email.utils import formatdate

import pytest

from notifier.feeds import cadence

NOW = 1_800_000_000.0


def test_a_feed_publishing_every_minute_is_polled_at_the_minimum():
    times = [NOW - 60 * i for i in range(200)]
    interval, reason = cadence.adaptive(times, NOW, 60, 3600)
    assert interval == 60 and "stories/day" in reason


def test_a_feed_silent_for_a_week_drifts_to_the_maximum():
    assert cadence.adaptive([NOW - 8 * 86400], NOW, 60, 3600)[0] == 3600


def test_a_feed_publishing_hourly_is_polled_about_every_half_hour():
    times = [NOW - 3600 * i for i in range(1, 49)]
    interval, _ = cadence.adaptive(times, NOW, 60, 7200)
    assert 1700 <= interval <= 1900


@pytest.mark.parametrize(
    "cache_control, expires, expected",
    [
        ("public, max-age=600", None, 600),
        ('max-age="120"', None, 120),
        ("no-cache", None, None),
        (None, formatdate(NOW + 900, usegmt=True), 900),
        (None, "not a date", None),
        ("max-age=99999999", None, cadence.CACHE_CAP),
    ],
)
def test_it_reads_how_long_the_server_asks_us_to_wait(cache_control, expires, expected):
    value = cadence.max_age(cache_control, expires, NOW)
    assert value == (pytest.approx(expected, abs=1) if expected is not None else None)


def test_a_server_asking_for_more_than_the_adaptive_interval_wins_unless_forced():
    kwargs = {
        "interval": 60,
        "adaptive_interval": 60,
        "adaptive_reason": "adaptive",
        "server_wait": 600,
        "low": 60,
    }
    assert cadence.after_success(forced=False, **kwargs) == (600, "server asks max-age 600 s")
    assert cadence.after_success(forced=True, **kwargs) == (60, "forced by operator")


def test_errors_back_off_exponentially_up_to_a_cap_and_honour_retry_after():
    delays = [cadence.backoff(60, n, None)[0] for n in range(1, 12)]
    assert delays[:4] == [60, 120, 240, 480] and delays[-1] == cadence.MAX_BACKOFF
    assert cadence.backoff(60, 1, 900) == (900, "server asked to retry after 900 s")
    assert cadence.backoff(60, 1, 10**9)[0] == cadence.CACHE_CAP


def test_jitter_stays_within_five_percent():
    assert all(95 <= cadence.jittered(100) <= 105 for _ in range(1000))


def test_a_newly_watched_feed_with_too_few_stories_keeps_its_default():
    assert cadence.adaptive([], NOW, 60, 3600, watched_since=NOW - 3600, default=300) == (
        300,
        "default until publishing is observed",
    )


def test_stories_first_seen_together_are_not_taken_for_a_flood():
    interval, reason = cadence.adaptive([NOW, NOW], NOW, 60, 3600, watched_since=NOW - 10, default=300)
    assert (interval, reason) == (300, "default until publishing is observed")


def test_a_poll_on_time_counts_the_next_one_from_its_due_time_not_from_when_it_was_recorded():
    due = cadence.next_due(NOW - 2, 60, NOW)  # claimed by a tick, fetched: 2 s after it fell due
    assert NOW + 57 <= due <= NOW - 2 + 63


def test_a_late_poll_counts_from_now_so_a_backlog_never_becomes_a_burst_of_catch_up_polls():
    assert all(NOW + 57 <= cadence.next_due(NOW - late, 60, NOW) <= NOW + 63 for late in (60, 600, 86400))
    assert NOW + 57 <= cadence.next_due(None, 60, NOW) <= NOW + 63  # never due before


def test_a_late_poll_is_never_followed_by_one_sooner_than_the_interval_allows():
    # the two-node scale-out test saw polls of one feed 1 s apart at a 2 s interval without this
    assert all(cadence.next_due(NOW - late, 60, NOW) >= NOW + 57 for late in (5, 20, 59.9))


def test_a_polled_feed_keeps_its_rhythm_from_the_due_time(env, r):
    from notifier import pipeline
    from notifier.settings import get_settings
    from notifier.stories import store
    from tests.feeds import Item, rss
    from tests.feedserver import FeedServer

    with FeedServer() as server:
        server.set(
            "/f.xml", rss([Item("Flooding forces evacuations along the river", "https://n.example/f")])
        )
        feed = store.add_feed(r, server.url("/f.xml"), "Rhythm", 60)
        due = time.time() - 2  # claimed by a tick a little after it fell due
        store.update_feed(r, feed.id, next_poll=due)
        pipeline.poll_feeds(r, [feed.id], get_settings())
        polled = store.get_feed(r, feed.id)
    assert due + 57 <= polled.next_poll <= due + 63
    assert polled.next_poll == r.zscore("feeds:due", feed.id)
