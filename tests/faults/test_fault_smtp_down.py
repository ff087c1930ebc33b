"""An SMTP server that is down (its port refuses connections) for longer than
NOTIFIER_DELIVERY_MAX_AGE, shortened to 15 s: as for a webhook provider that is down, the tries do
not use up NOTIFIER_DELIVERY_MAX_ATTEMPTS; the alert that grew too old is dropped with the reason
and counted, and the young one arrives once when the server is back on the same port. Both ways
e-mail goes: our pooled sender (a plain mailto://) and Apprise (a mailto:// with cc=)."""

from __future__ import annotations

import pytest

from tests.faults.harness import BASELINE, add_feed, baseline_done, deliveries, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import SmtpSink

pytestmark = pytest.mark.e2e
MAX_AGE = 15


def test_an_smtp_server_down_past_the_max_age_drops_the_old_alert_and_delivers_the_young_once(
    tmp_path, redis_url
):
    env = service_env(tmp_path, redis_url, NOTIFIER_DELIVERY_MAX_AGE=str(MAX_AGE))
    with FeedServer() as feeds, SmtpSink() as mail, Service(env, tmp_path) as service:
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "rail", "--match", "rail")
        pooled = mail.url("ana@example.com")
        via_apprise = mail.url("bob@example.com") + "&cc=desk@example.com"  # cc: the pooled sender leaves it
        service.cli("subscriber", "add", "ana", "--notify", pooled, "--topic", "rail")
        service.cli("subscriber", "add", "bob", "--notify", via_apprise, "--topic", "rail")
        service.start_worker("w1")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()
        mail.down()  # connections refused from here on

        old = Item("Rail strike halts trains in the north", "https://news.example.com/r1", guid="r-1")
        feeds.set("/news.xml", rss([old, *BASELINE]))
        tried = lambda: (rows := deliveries(service)) and all(d["attempts"] >= 2 for d in rows)  # noqa: E731
        assert wait_until(lambda: len(deliveries(service)) == 2 and tried(), timeout=30), service.logs()
        wait_until(lambda: False, timeout=5)  # the first alert ages while the server stays down
        young = Item("Rail talks resume on Monday", "https://news.example.com/r2", guid="r-2")
        feeds.set("/news.xml", rss([young, old, *BASELINE]))
        dropped = lambda: [d for d in deliveries(service) if d["state"] == "dropped"]  # noqa: E731
        assert wait_until(lambda: len(dropped()) == 2, timeout=40), (deliveries(service), service.logs())
        mail.up()  # the server is back, on the same port

        rows = wait_until(lambda: settled(service, 4), timeout=40)
        assert rows, (deliveries(service), service.logs())
        got = {to: [m["Subject"] for m in mail.for_recipient(to)] for to in ("ana@", "bob@")}
        counted = service.cli_json("status")["deliveries"]
        ids = [m["Message-ID"] for m in mail.messages]
        lost = sum(young.title not in subjects for subjects in got.values())
        lost += sum(d["state"] not in ("sent", "dropped") for d in rows)
        report("SMTP server down past the max age", lost=lost, duplicated=len(ids) - len(set(ids)))
        assert got == {"ana@": [young.title], "bob@": [young.title]}, got
        stories = {state: {d["story"] for d in rows if d["state"] == state} for state in ("sent", "dropped")}
        assert sorted(d["state"] for d in rows) == ["dropped", "dropped", "sent", "sent"], rows
        assert all(len(ids) == 1 for ids in stories.values()) and stories["sent"] != stories["dropped"]
        for d in dropped():
            reason = d["last_error"]
            assert reason.startswith(f"older than {MAX_AGE} s") and "provider was unavailable" in reason
        assert counted.get("dropped_stale") == 2 and not counted.get("failed"), counted
        assert all(d["outages"] >= 1 for d in rows if d["state"] == "sent"), rows
