"""kill -9 of the deliver worker while webhooks that Apprise sends (not the pooled path) hold the
request: json:// with a user and no password, form:// and xml://. The resend carries the same
`Idempotency-Key` (the delivery id) as the request that hung, added per send as Apprise's
`+Idempotency-Key=` URL parameter, so each receiver can drop a copy."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.faults.harness import HangFirstSink, add_feed, baseline_done, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until

pytestmark = pytest.mark.e2e
KINDS = ("json", "form", "xml")


def test_apprise_webhooks_resent_after_kill_9_carry_the_same_idempotency_key(tmp_path, redis_url):
    with ExitStack() as stack:
        feeds = stack.enter_context(FeedServer())
        sinks = {kind: stack.enter_context(HangFirstSink(hang=1)) for kind in KINDS}
        service = stack.enter_context(Service(service_env(tmp_path, redis_url), tmp_path))
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "storm", "--match", "storm")
        # a user without a password: the pooled sender leaves json:// like this to Apprise
        urls = {kind: f"{kind}://bot@127.0.0.1:{sink.port}/{kind}" for kind, sink in sinks.items()}
        notify = [arg for url in urls.values() for arg in ("--notify", url)]
        service.cli("subscriber", "add", "ana", *notify, "--topic", "storm")
        service.start_worker("w1", pool="solo")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        story = Item("Storm closes the harbour", "https://news.example.com/storm", guid="s-1")
        feeds.set("/news.xml", rss([story]))
        assert wait_until(lambda: all(s.hung for s in sinks.values()), timeout=20), service.logs()
        service.kill("w1")  # mid-send: each receiver has the headers, not the body
        service.start_worker("w2", pool="solo")

        rows = wait_until(lambda: settled(service, len(KINDS)), timeout=40)
        assert rows, service.logs()
        by_target = {kind: sinks[kind].requests for kind in KINDS}
        lost = sum(not got for got in by_target.values())
        duplicated = sum(max(0, len(got) - 1) for got in by_target.values())
        report("kill -9 mid-send (Apprise json/form/xml)", lost=lost, duplicated=duplicated)
        assert lost == 0 and all(d["state"] == "sent" for d in rows), service.logs()
        ids = {d["id"] for d in rows}
        for kind, sink in sinks.items():
            keys = {h["headers"].get("Idempotency-Key") for h in [*sink.hung, *sink.requests]}
            assert len(keys) == 1 and keys <= ids, (kind, keys)  # the hung request and the resend: one key
            assert b"harbour" in sink.requests[-1]["body"]
        assert len({s.hung[0]["headers"]["Idempotency-Key"] for s in sinks.values()}) == len(KINDS)
