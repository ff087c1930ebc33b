"""Redis (append-only, fsync always) killed and restarted while a story fans out to 40 webhooks
whose receiver answers slowly: every URL gets the story once. The workers' Redis client rides out
the restart (core/db.PATIENT), so no ledger write after a send is lost and nothing is resent; were
one lost, the copy would carry the same Idempotency-Key."""

from __future__ import annotations

import threading

import pytest

from tests.faults.harness import add_feed, baseline_done, own_redis, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e
URLS = 40


def test_redis_restarted_mid_fan_out_loses_nothing(tmp_path):
    with (
        own_redis(tmp_path) as (url, restart),
        FeedServer() as feeds,
        HttpSink() as hooks,
        Service(service_env(tmp_path, url), tmp_path) as service,
    ):
        hooks.delay = 1.0  # the sends are in flight when Redis goes
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "floods", "--match", "flood")
        notify = [arg for n in range(URLS) for arg in ("--notify", hooks.url(f"/u{n}"))]
        service.cli("subscriber", "add", "many", *notify, "--topic", "floods")
        service.start_worker("w1")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        story = Item("Flood warning for the river valley", "https://news.example.com/flood", guid="f-1")
        first_seen = threading.Event()
        watcher = threading.Thread(
            target=lambda: first_seen.set() if wait_until(lambda: hooks.requests or None, 30, 0.01) else None
        )
        watcher.start()
        feeds.set("/news.xml", rss([story]))
        watcher.join()
        assert first_seen.is_set(), service.logs()
        restart(down_for=1.0)

        rows = wait_until(lambda: settled(service, URLS), timeout=45)
        assert rows, service.logs()
        paths = [h["path"] for h in hooks.requests]
        lost = sum(f"/u{n}" not in paths for n in range(URLS))
        duplicated = len(paths) - len(set(paths))
        keys = {h["path"]: set() for h in hooks.requests}
        for h in hooks.requests:
            keys[h["path"]].add(h["headers"]["Idempotency-Key"])
        report("Redis restarted mid fan-out", lost=lost, duplicated=duplicated)
        assert lost == 0 and duplicated == 0 and all(d["state"] == "sent" for d in rows)
        assert all(len(k) == 1 for k in keys.values())  # a copy is recognisable by its key
        assert wait_until(lambda: False, timeout=3) is False and len(hooks.requests) == len(paths)
