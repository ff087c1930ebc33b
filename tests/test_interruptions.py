"""The resend rule for a send whose worker died, against the real Redis: resent with a note and a
count, only once per dead lease, and failed with the reason after MAX_INTERRUPTIONS."""

from __future__ import annotations

import time

from notifier.alerts import interruptions, ledger


def sending(r, lease: float = 5) -> str:
    [did] = ledger.create(r, [("s1", "ana", "h1", "json://127.0.0.1")], ttl=3600, lease_until=time.time())
    ledger.begin_many(r, [did], time.time() + lease)
    return did


def test_a_live_lease_is_not_touched(r):
    did = sending(r)
    assert interruptions.settle(r, did, lease=5) is None
    assert ledger.get(r, did).state == "sending"


def test_a_dead_lease_is_resent_once_with_a_note_and_a_count(r):
    did = sending(r)
    later = time.time() + 6
    assert interruptions.settle(r, did, lease=5, now=later) == "resent"
    assert interruptions.settle(r, did, lease=5, now=later) is None  # a second sweeper: not ours
    row = ledger.get(r, did)
    assert (row.state, row.resent, row.note) == ("retrying", 1, "resent after interruption (1 of 3)")
    assert r.hget("deliveries:count", "resent") == "1"
    assert r.zscore("deliveries:due", did) == later


def test_a_delivery_interrupted_too_often_fails_with_the_reason(r):
    did = sending(r)
    for _ in range(interruptions.MAX_INTERRUPTIONS):
        assert interruptions.settle(r, did, lease=5, now=time.time() + 6) == "resent"
        ledger.begin_many(r, [did], time.time() + 5)
    assert interruptions.settle(r, did, lease=5, now=time.time() + 6) == "failed"
    row = ledger.get(r, did)
    assert row.state == "failed" and row.last_error == "interrupted during send 4 times; given up"
    assert row.resent == 3 and r.zscore("deliveries:due", did) is None


def test_an_interrupted_digest_goes_back_held_whole_with_its_identity(r):
    rows = [
        ("s1", "ana", "h1", "json://127.0.0.1", time.time()),
        ("s2", "ana", "h1", "json://127.0.0.1", time.time()),
    ]
    ledger.create(r, rows, ttl=3600, lease_until=time.time())  # held: they wait, none returned
    ids = sorted(r.smembers("held:ana:h1"))
    digest = ledger.digest_id(ids)
    assert sorted(ledger.begin_held(r, ids, time.time() + 5, digest)) == ids
    assert interruptions.settle(r, ids[0], lease=5, now=time.time() + 6) == "held"
    again = ledger.get_many(r, ids)
    assert {(d.state, d.digest, d.resent) for d in again} == {("held", digest, 1)}
    assert interruptions.settle(r, ids[1], lease=5, now=time.time() + 6) is None  # settled with the first
