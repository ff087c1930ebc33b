"""Connection shares and the recording thread: what keeps one slow host or destination to itself."""

from __future__ import annotations

import asyncio
import threading
import time

from notifier.core.drain import Countdown, Drain, InFlight
from notifier.core.lanes import Lanes, SerialLanes


def test_a_host_gets_its_share_and_a_slow_one_gives_its_process_slot_back():
    async def scenario():
        lanes, busy, most = (
            Lanes(per_key=2, overall=2, quick=0.2),
            {"slow": 0, "fast": 0},
            {"slow": 0, "fast": 0},
        )

        async def work(key: str, seconds: float):
            busy[key] += 1
            most[key] = max(most[key], busy[key])
            await asyncio.sleep(seconds)
            busy[key] -= 1

        slow = [asyncio.ensure_future(lanes.run("slow", lambda: work("slow", 2.0))) for _ in range(3)]
        await asyncio.sleep(0.3)  # the slow host has held both process slots past `quick`
        started = time.monotonic()
        await asyncio.gather(*(lanes.run("fast", lambda: work("fast", 0.01)) for _ in range(10)))
        fast_took = time.monotonic() - started
        assert lanes.stalled("slow", 0.2) and not lanes.stalled("fast", 0.2)
        await asyncio.gather(*slow)
        return most, fast_took

    most, fast_took = asyncio.run(scenario())
    assert most == {"slow": 2, "fast": 2}  # each host at most its share at once
    assert fast_took < 1.0  # not behind the slow host, which holds both slots for 2 s


def test_a_serial_lane_keeps_order_and_a_hung_lane_holds_only_itself():
    lanes, done, release = SerialLanes("test-lane"), [], threading.Event()
    hung = lanes.submit("hung", release.wait, 5)
    sent = [lanes.submit("fine", done.append, n) for n in range(5)]
    for future in sent:
        future.result(timeout=2)
    assert done == [0, 1, 2, 3, 4]
    time.sleep(0.15)
    assert lanes.stalled("hung", 0.1) and not lanes.stalled("fine", 0.1)
    release.set()
    assert hung.result(timeout=2)


def test_the_drain_hands_over_what_queued_meanwhile_in_one_call_and_survives_a_failing_batch():
    drain, calls, first_call = Drain("test-drain"), [], threading.Event()
    countdown = Countdown(6)

    def handle(items):
        calls.append(list(items))
        first_call.set()
        time.sleep(0.1)  # the rest queue up meanwhile
        for _ in items:
            countdown.one_done()
        if items == ["boom"]:
            raise RuntimeError("a batch that fails")

    drain.put(handle, "boom")
    assert first_call.wait(2)
    for n in range(5):
        drain.put(handle, n)
    assert countdown.wait(3)
    assert calls == [["boom"], [0, 1, 2, 3, 4]]


def test_in_flight_counts_items_until_taken_in_and_says_how_many_a_wait_left():
    tally = InFlight()
    first, second = Countdown(2, tally), Countdown(1, tally)
    assert tally.wait_out(0.05) == 3  # nothing taken in yet: the wait gives up with all three left
    first.one_done()
    threading.Timer(0.1, second.one_done).start()
    assert tally.wait_out(0.05) >= 1
    first.one_done()
    assert tally.wait_out(30) == 0  # returns as soon as the last is in, not after 30 s
    assert Countdown(0, tally).wait(0) and tally.wait_out(0) == 0
