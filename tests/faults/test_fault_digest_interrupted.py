"""kill -9 of the deliver worker while a digest (held alerts of one URL sent as one message) hangs
at its webhook receiver: the digest goes again whole, as the same message with the same
`Idempotency-Key` (the digest's identity, kept on each of its alerts), never as single alerts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.faults.harness import HangFirstSink, add_feed, baseline_done, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until

pytestmark = pytest.mark.e2e
TITLES = (
    "Wildfire reaches the northern ridge",
    "Flood closes the riverside road",
    "Quake rattles the old town",
)
STORIES = [Item(t, f"https://news.example.com/d{n}", guid=f"d-{n}") for n, t in enumerate(TITLES)]


def quiet_now() -> str:
    """A quiet-hours window around this moment, so every alert is held."""
    now = datetime.now(UTC)
    return f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"


def held_ids(service) -> list[str]:
    return [d["id"] for d in service.cli_json("deliveries") if d["state"] == "held"]


def release_now(r, ids: list[str]) -> None:
    """The fake clock: the end of the quiet hours is now."""
    now = time.time()
    for did in ids:
        r.hset(f"delivery:{did}", "next_at", now)
    r.zadd("deliveries:due", dict.fromkeys(ids, now))


def test_a_digest_cut_by_kill_9_is_sent_again_as_the_same_digest(tmp_path, redis_url, r):
    with (
        FeedServer() as feeds,
        HangFirstSink(hang=1) as hooks,
        Service(service_env(tmp_path, redis_url), tmp_path) as service,
    ):
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "local", "--match", "wildfire OR flood OR quake")
        url = f"json://bot@127.0.0.1:{hooks.port}/ana?rto=30"  # Apprise waits for the hung answer
        quiet = ("--quiet", quiet_now(), "--tz", "UTC")
        service.cli("subscriber", "add", "ana", "--notify", url, *quiet, "--topic", "local")
        service.start_worker("w1", pool="solo")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        feeds.set("/news.xml", rss(STORIES))
        held = wait_until(lambda: held_ids(service) if len(held_ids(service)) == len(STORIES) else None, 20)
        assert held, service.logs()
        release_now(r, held)
        assert wait_until(lambda: hooks.hung, timeout=20), service.logs()
        service.kill("w1")  # mid-send: the receiver has the digest's headers, not its body
        service.start_worker("w2", pool="solo")

        rows = wait_until(lambda: settled(service, len(STORIES)), timeout=40)
        assert rows, service.logs()
        docs = [json.loads(json.loads(h["body"])["message"]) for h in hooks.requests]
        got = [t for doc in docs for t in TITLES if t in doc["summary"] or t == doc["title"]]
        lost = sum(s.title not in got for s in STORIES)
        report("digest cut by kill -9", lost=lost, duplicated=len(got) - len(set(got)))
        assert len(hooks.requests) == 1 and sorted(got) == sorted(TITLES), got
        assert docs[0]["title"] == f"{len(TITLES)} new stories for you"
        digest = r.hget(f"delivery:{rows[0]['id']}", "digest")
        assert digest and hooks.hung[0]["headers"]["Idempotency-Key"] == digest
        assert hooks.requests[0]["headers"]["Idempotency-Key"] == digest
        assert all(d["state"] == "sent" and d["resent"] == 1 for d in rows), rows
        assert {r.hget(f"delivery:{d['id']}", "digest") for d in rows} == {digest}
