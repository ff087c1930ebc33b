"""SIGTERM (a deploy, `docker compose restart`) while a webhook send is on the wire: the stopping
process waits for the send and writes its outcome before it exits, so the process started after it
has nothing to send again. Before, the outcome was never written, the lease ran out and the restarted
service sent the alert a second time (same Idempotency-Key, but a copy all the same)."""

from __future__ import annotations

import pytest

from tests.faults.harness import (
    HangFirstSink,
    add_feed,
    baseline_done,
    deliveries,
    report,
    service_env,
    settled,
)
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink, free_port

pytestmark = pytest.mark.e2e
SEND_TAKES = 4.0  # seconds the receiver takes to answer: the stop lands in the middle
STARTS = {
    # `notifier worker` as it starts by default (prefork: the sends are in the pool's processes)
    "worker": ("worker", "--name", "{name}"),
    # compose's deliver service (threads: the sends are in the main process)
    "worker-threads": ("worker", "--pool", "threads", "--concurrency", "4", "--name", "{name}"),
    # the supervisor, which passes SIGTERM on to its deliver worker
    "run": ("run",),
}


def start(service: Service, how: str, name: str) -> None:
    service.start(name, *[arg.format(name=name) for arg in STARTS[how]])
    if how != "run" and "beat" not in service.procs:
        service.start("beat", "beat")


@pytest.mark.parametrize("how", sorted(STARTS))
def test_a_stop_mid_send_waits_for_the_send_so_nothing_goes_twice(tmp_path, redis_url, how):
    env = service_env(tmp_path, redis_url, NOTIFIER_API_PORT=str(free_port()))
    with FeedServer() as feeds, HttpSink() as hooks, Service(env, tmp_path) as service:
        hooks.delay = SEND_TAKES
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "flood", "--match", "flood")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "flood")
        start(service, how, "first")
        assert wait_until(lambda: baseline_done(service, feed_id), timeout=60), service.logs()

        story = Item("Flood warning for the river valley", "https://news.example.com/f", guid="f-1")
        feeds.set("/news.xml", rss([story]))
        assert wait_until(lambda: hooks.arrived, timeout=30), service.logs()
        service.stop_one("first", timeout=30)  # SIGTERM to it alone, as docker and the supervisor do
        at_exit = [row["state"] for row in deliveries(service)]

        start(service, how, "second")  # the restart after the deploy: it resends what was cut
        rows = wait_until(lambda: settled(service, 1), timeout=60)
        assert rows, service.logs()
        arrived = [body["title"] for body in hooks.json_bodies("/ana")]
        report(f"SIGTERM mid-send ({how})", lost=int(not arrived), duplicated=max(0, len(arrived) - 1))
        assert at_exit == ["sent"], (at_exit, service.logs())
        assert arrived == [story.title]
        assert [(row["state"], row["resent"]) for row in rows] == [("sent", 0)]


def test_a_send_that_outlasts_the_stop_grace_is_left_to_its_lease(tmp_path, redis_url):
    """The receiver holds the request past NOTIFIER_STOP_GRACE: the worker stops anyway, and the
    alert goes again after its lease with the key of the request that hung (at least once)."""
    env = service_env(tmp_path, redis_url, NOTIFIER_STOP_GRACE="1")
    with FeedServer() as feeds, HangFirstSink(hang=1) as hooks, Service(env, tmp_path) as service:
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "flood", "--match", "flood")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "flood")
        start(service, "worker-threads", "first")
        assert wait_until(lambda: baseline_done(service, feed_id), timeout=60), service.logs()

        story = Item("Flood warning for the river valley", "https://news.example.com/f", guid="f-1")
        feeds.set("/news.xml", rss([story]))
        assert wait_until(lambda: hooks.hung, timeout=30), service.logs()
        service.stop_one("first", timeout=30)
        at_exit = [row["state"] for row in deliveries(service)]

        start(service, "worker-threads", "second")
        rows = wait_until(lambda: settled(service, 1), timeout=60)
        assert rows, service.logs()
        arrived = hooks.json_bodies("/ana")
        report("SIGTERM, send outlasts the grace", lost=int(not arrived), duplicated=max(0, len(arrived) - 1))
        assert at_exit == ["sending"]
        assert "still in flight after 1 s" in service.logs()
        assert [(row["state"], row["resent"]) for row in rows] == [("sent", 1)]
        assert [body["title"] for body in arrived] == [story.title]
        assert hooks.hung[0]["headers"]["Idempotency-Key"] == rows[0]["id"] == arrived[0]["delivery_id"]
