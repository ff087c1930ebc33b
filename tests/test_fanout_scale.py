"""Fan-out to more subscriber URLs than one Redis command can carry (Redis refuses a command of
more than 1,048,576 arguments and drops the connection): a story for a million subscribers must
still be fanned out, and the reads and writes around it done in steps."""

from __future__ import annotations

from notifier.models import Subscriber
from notifier.stories import events, store

MANY = 530_000  # two arguments each: past what a single command may carry


def test_claim_first_answers_for_more_urls_than_one_command_can_carry(r):
    event = events.Event("ev-big", "s1", 1, 1, False)
    first = {f"sub-{i}\0{i:012x}": f"d1-{i}" for i in range(MANY)}

    told = events.claim_first(r, event, first, ttl=600)

    assert len(told) == MANY and not any(told.values())
    again = events.claim_first(r, event, {f"sub-{i}\0{i:012x}": f"d2-{i}" for i in (0, MANY - 1)}, ttl=600)
    assert again == {f"sub-0\0{0:012x}": "d1-0", f"sub-{MANY - 1}\0{MANY - 1:012x}": f"d1-{MANY - 1}"}


def test_reads_and_thread_records_in_steps_lose_nothing_at_the_step_edges(r, monkeypatch):
    monkeypatch.setattr(store.audience, "READ_STEP", 2)
    monkeypatch.setattr(events, "CLAIM_STEP", 2)
    subs = [Subscriber(f"n{i}", (f"json://hooks.example.com/{i}",), ("t",)) for i in range(5)]
    store.add_new_subscribers(r, subs)

    assert store.get_subscribers(r, ["n4", "gone", "n0", "n2", "n1", "n3"]) == [
        subs[i] for i in (4, 0, 2, 1, 3)
    ]
    assert store.get_subscribers(r, []) == []
    events.remember_threads(r, "s2", {f"d{i}": f"p{i}" for i in range(5)}, ttl=600)
    assert events.parents_of(r, [("s2", f"d{i}") for i in range(6)]) == {f"d{i}": f"p{i}" for i in range(5)}
    assert 0 < r.ttl("cl:re:s2") <= 600
