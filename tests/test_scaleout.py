"""Two machines' worth of notifier on one Redis: two `notifier run` nodes, each with its own node
name, data dir and API, and so two beats. Every feed is polled once per interval, the work is
spread over both nodes, and killing one node (SIGKILL, its whole process group) loses nothing:
its leases run out and the survivor takes the work up.

The test prints what it measured (one JSON line, `pytest -s` shows it): polls per feed per
interval, polls per node, alerts, and what happened after the kill.
"""

from __future__ import annotations

import calendar
import json
import time

import pytest

from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.operating import baselines_done, ready, watch
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink, free_port

pytestmark = pytest.mark.e2e

FEEDS, INTERVAL, WINDOW, LEASE = 6, 2, 16, 4
NODES = ("node-a", "node-b")


def base(n: int) -> list[Item]:
    return [Item(f"Local council {n} meets on Tuesday", f"https://example.com/{n}/council", guid=f"{n}-c")]


def task_lines(log: str, since: float = 0, until: float = float("inf")) -> list[str]:
    """Celery's messages about poll tasks in this node's JSON log, between two times."""
    found = []
    for line in log.splitlines():
        if "Task workers.tasks.poll[" in line:
            entry = json.loads(line)
            stamp = calendar.timegm(time.strptime(entry["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
            found += [entry["message"]] if since <= stamp <= until else []
    return found


def polls_per_node(log: str, since: float, until: float) -> int:
    """Poll tasks this node's workers finished in [since, until] (celery.app.trace, at DEBUG)."""
    return sum("succeeded" in m for m in task_lines(log, since, until))


def unfinished(log: str) -> int:
    """Poll tasks this node received and never finished."""
    messages = task_lines(log)
    return sum("received" in m for m in messages) - sum("succeeded" in m for m in messages)


def gaps(arrived: list[tuple[float, str]], path: str, since: float, until: float) -> list[float]:
    times = [t for t, p in arrived if p == path and since <= t <= until]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def alerts(hooks, title: str) -> int:
    return sum(body["title"] == title for body in hooks.json_bodies("/reader"))


def test_two_nodes_share_the_work_and_the_survivor_takes_over_when_one_is_killed(tmp_path, redis_url, r):
    env = service_env(
        tmp_path,
        redis_url,
        NOTIFIER_LEASE_SECONDS=str(LEASE),
        NOTIFIER_VISIBILITY_TIMEOUT="8",
        NOTIFIER_LOG_LEVEL="DEBUG",  # Celery's line per finished task says which node polled
        NOTIFIER_LOG_FORMAT="json",
    )
    ports = {node: free_port() for node in NODES}
    with FeedServer() as feeds, HttpSink() as hooks, Service(env, tmp_path) as service:
        paths = [f"/f{n}.xml" for n in range(FEEDS)]
        for n, path in enumerate(paths):
            feeds.set(path, rss(base(n)))
        feed_ids = watch(r, [feeds.url(p) for p in paths], INTERVAL, "earthquake", [hooks.url("/reader")])
        for node in NODES:
            node_env = {"NOTIFIER_NODE_NAME": node, "NOTIFIER_DATA_DIR": str(tmp_path / node)}
            service.start(node, "run", env=node_env | {"NOTIFIER_API_PORT": str(ports[node])})

        def both_ready():
            answers = [ready(ports[node]) for node in NODES]
            alive = [a["checks"]["workers"]["alive"] for a in answers if a]
            return len(alive) == 2 and all(set(a.values()) == {2} for a in alive)

        assert wait_until(both_ready, timeout=90), service.logs()
        assert wait_until(lambda: baselines_done(r, feed_ids), timeout=30), service.logs()

        # both nodes up: every feed polled once per interval, by either node
        start = time.time()
        time.sleep(WINDOW)
        end = time.time()
        together = {p: len(gaps(feeds.arrived, p, start, end)) + 1 for p in paths}
        closest = min(g for p in paths for g in gaps(feeds.arrived, p, start, end))
        by_node = {n: polls_per_node((tmp_path / f"{n}.log").read_text(), start, end) for n in NODES}

        # every feed host slow for a moment, so both nodes are in the middle of polls; then a story,
        # and node A dies: the feeds it was polling stay leased until the lease runs out, and then
        # node B takes them up
        for path in paths:
            feeds.behave(path, "slow", seconds=3)
        time.sleep(2.5)
        quake = Item("Strong earthquake shakes the capital", "https://example.com/quake", guid="q-1")
        feeds.set(paths[0], rss([quake, *base(0)]))
        service.kill("node-a")
        killed = time.time()
        leased = r.zcount("feeds:due", killed, "+inf") - r.zcount("feeds:due", killed + LEASE + 1, "+inf")
        held_by_a = unfinished((tmp_path / "node-a.log").read_text())
        for path in paths:
            feeds.behave(path, None)
        assert wait_until(lambda: alerts(hooks, quake.title), timeout=INTERVAL + LEASE + 20), service.logs()
        first_alert_after_kill = time.time() - killed

        after_start = time.time()
        time.sleep(WINDOW / 2)
        later = Item("Earthquake aftershock felt in the north", "https://example.com/after", guid="q-2")
        feeds.set(paths[3], rss([later, *base(3)]))
        assert wait_until(lambda: alerts(hooks, later.title), timeout=INTERVAL + 20), service.logs()
        wait_until(lambda: False, timeout=3)  # room for a wrong second alert to show up
        after_end = time.time()
        alone = {p: len(gaps(feeds.arrived, p, after_start, after_end)) + 1 for p in paths}
        closest_alone = min(g for p in paths for g in gaps(feeds.arrived, p, after_start, after_end))
        picked_up = max(
            min(t for t, p in feeds.arrived if p == path and t > killed) - killed for path in paths
        )

    summary = {
        "feeds": FEEDS,
        "interval_s": INTERVAL,
        "both_nodes": {"window_s": round(end - start, 1), "polls_per_feed": together, "by_node": by_node},
        "closest_polls_of_one_feed_s": round(closest, 2),
        "after_kill": {
            "poll_tasks_node_a_held": held_by_a,
            "feeds_leased_at_kill": leased,
            "alert_for_story_published_at_kill_s": round(first_alert_after_kill, 1),
            "every_feed_polled_again_within_s": round(picked_up, 1),
            "window_s": round(after_end - after_start, 1),
            "polls_per_feed": alone,
            "closest_polls_of_one_feed_s": round(closest_alone, 2),
        },
        "alerts": {quake.title: alerts(hooks, quake.title), later.title: alerts(hooks, later.title)},
        "all_alerts": len(hooks.requests),
    }
    print(json.dumps(summary))
    # no feed is polled twice within one interval (polls are spread ±5 %), none is left out
    assert closest > INTERVAL * 0.9 and closest_alone > INTERVAL * 0.9, summary
    per_window = WINDOW / INTERVAL
    assert all(per_window / 2 <= n <= per_window + 1 for n in together.values()), summary
    assert all(n >= 2 for n in alone.values()), summary
    assert all(by_node.values()), summary  # both nodes polled
    assert summary["alerts"] == {quake.title: 1, later.title: 1} and len(hooks.requests) == 2, summary
    # held_by_a is reported, not asserted: a poll task hands its feeds to the loop and returns at
    # once, so the kill cuts off fetches in flight on node A's loop rather than Celery tasks
    assert picked_up < INTERVAL + LEASE + 5, summary
