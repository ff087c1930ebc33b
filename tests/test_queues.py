"""Which queue each task goes to: a fan-out never waits behind poll batches, nor they behind it."""

from __future__ import annotations

import json

from workers.app import make_app


def queued(r, queue: str) -> list[str]:
    return [json.loads(raw)["headers"]["task"] for raw in r.lrange(queue, 0, -1)]


def test_fan_out_goes_to_the_deliver_queue_and_polls_to_the_poll_queue(r, env):
    app = make_app()  # its broker is the test's Redis (REDIS_URL)
    for task, args in (("fan_out", [["story-1"]]), ("poll", [["feed-1"]]), ("deliver", [["d-1"]])):
        app.send_task(f"workers.tasks.{task}", args)

    assert queued(r, "poll") == ["workers.tasks.poll"]
    assert sorted(queued(r, "deliver")) == ["workers.tasks.deliver", "workers.tasks.fan_out"]
