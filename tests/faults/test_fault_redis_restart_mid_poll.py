"""Redis (append-only, fsync always) killed while the poll tasks are fetching a batch of feeds
that each publish a new story (the feed server stalls every answer), and kept down until after the
fetches end, so the polls also record into a Redis that is not there yet; restarted on the same
files. Every new story is alerted, and none is taken as new twice."""

from __future__ import annotations

import pytest

from tests.faults.harness import BASELINE, baseline_done, own_redis, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e
TITLES = (  # four different events: one event told twice is alerted once, by design
    "Ferry to the islands cancelled",
    "Bridge shut after lorry crash",
    "Tunnel flooded overnight",
    "Airport radar fault grounds flights",
)
STALL = 2.0  # seconds each feed answer is held: the polls are mid-fetch when Redis goes


def test_redis_restarted_mid_poll_loses_nothing_and_repeats_nothing(tmp_path):
    with (
        own_redis(tmp_path) as (url, restart),
        FeedServer() as feeds,
        HttpSink() as hooks,
        Service(service_env(tmp_path, url), tmp_path) as service,
    ):
        paths = [f"/f{n}.xml" for n in range(len(TITLES))]
        for path in paths:
            feeds.set(path, rss(BASELINE))
        ids = [service.cli("feed", "add", feeds.url(p), "--interval", "1").stdout.strip() for p in paths]
        service.cli("topic", "add", "transport", "--match", "ferry OR bridge OR tunnel OR airport")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "transport")
        service.start_worker("w1")
        service.start("beat", "beat")
        assert wait_until(lambda: all(baseline_done(service, i) for i in ids)), service.logs()

        stories = [Item(t, f"https://news.example.com/t{n}", guid=f"t-{n}") for n, t in enumerate(TITLES)]
        asked = {p: len(feeds.requests_for(p)) for p in paths}
        for path, story in zip(paths, stories, strict=True):
            feeds.behave(path, "slow", seconds=STALL)
            feeds.set(path, rss([story, *BASELINE]))
        fetching = lambda: all(len(feeds.requests_for(p)) > asked[p] for p in paths)  # noqa: E731
        assert wait_until(fetching, timeout=20, interval=0.02), service.logs()
        restart(down_for=STALL + 1.0, while_down=lambda: [feeds.behave(p, None) for p in paths])

        rows = wait_until(lambda: settled(service, len(TITLES)), timeout=40)
        assert rows, service.logs()
        wait_until(lambda: False, timeout=4)  # later polls of the same feeds: room for a repeat
        titles = [b["title"] for b in hooks.json_bodies("/ana")]
        lost = sum(t not in titles for t in TITLES)
        duplicated = len(titles) - len(set(titles))
        report("Redis restarted mid-poll", lost=lost, duplicated=duplicated)
        assert lost == 0 and duplicated == 0, (titles, service.logs())
        assert len(service.cli_json("deliveries")) == len(TITLES)
        assert "Connection refused" in service.logs()  # the restart was felt
