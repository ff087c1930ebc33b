"""Fan-out in steps: a worker killed (SIGKILL, a real one) between two steps of a fan-out, and the
fan-out run again, leaves every alert recorded exactly once and hands each to delivery once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from notifier.alerts import fanout
from notifier.models import Story, Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import claim, store

COUNT = 3000
STEP = 400
# The child fans the story out in steps of STEP and is killed by the kernel after its second
# step is recorded and reported: what a worker's OOM kill or a host crash does mid-way.
CHILD = """
import json, os, signal, sys
import redis
from notifier.alerts import fanout
from notifier.settings import get_settings
fanout.CREATE_CHUNK = int(sys.argv[2])
r, steps = redis.Redis.from_url(sys.argv[1], decode_responses=True), []
def on_created(ids):
    steps.append(ids)
    with open(sys.argv[3], "a") as out:
        out.write(json.dumps(ids) + "\\n")
    if len(steps) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
fanout.create_deliveries(r, [sys.argv[4]], get_settings(), on_created=on_created)
"""


def audience(r) -> str:
    store.add_topic(r, Topic("quake", "earthquake"))
    store.add_topic(r, Topic("japan", "japan"))
    follows = [("quake",), ("japan",), ("quake", "japan")]  # a third in both: given once, not twice
    subs = [Subscriber(f"s{i}", (f"json://127.0.0.1:9/hook/{i}",), follows[i % 3]) for i in range(COUNT)]
    store.add_new_subscribers(r, subs)
    story = Story("quake-1", "feed", "Earthquake off Japan", "https://x.example/q", None, "", "q1")
    assert claim.claim_stories(r, "feed", [story], story_ttl=3600, title_ttl=3600, pending_at=time.time())
    return story.id


def test_a_fan_out_killed_between_steps_and_run_again_records_each_alert_once(env, r, tmp_path, monkeypatch):
    monkeypatch.setattr(fanout, "CREATE_CHUNK", STEP)
    story_id, report = audience(r), tmp_path / "steps.jsonl"

    child = subprocess.run(
        [sys.executable, "-c", CHILD, env["REDIS_URL"], str(STEP), str(report), story_id], timeout=120
    )

    assert child.returncode == -signal.SIGKILL
    before = [id_ for line in report.read_text().splitlines() for id_ in json.loads(line)]
    assert 0 < len(before) < COUNT and r.llen(f"story:{story_id}:deliveries") == len(before)
    assert r.zscore("stories:pending", story_id) is not None  # not marked done: the tick runs it again

    steps: list[list[str]] = []
    assert fanout.create_deliveries(r, [story_id], get_settings(), on_created=steps.append) == []
    after = [id_ for step in steps for id_ in step]

    assert not set(before) & set(after)  # nothing handed to delivery twice
    recorded = r.lrange(f"story:{story_id}:deliveries", 0, -1)
    assert len(recorded) == len(set(recorded)) == COUNT and set(recorded) == set(before) | set(after)
    assert {r.hget(f"delivery:{did}", "subscriber") for did in recorded} == {f"s{i}" for i in range(COUNT)}
    assert max(len(step) for step in steps) <= 2 * STEP  # held one step at a time, not all at once
    assert r.zscore("stories:pending", story_id) is None

    again: list[list[str]] = []
    fanout.create_deliveries(r, [story_id], get_settings(), on_created=again.append)
    assert again == [] and r.llen(f"story:{story_id}:deliveries") == COUNT


def test_without_a_callback_every_step_is_returned(env, r, monkeypatch):
    monkeypatch.setattr(fanout, "CREATE_CHUNK", STEP)
    story_id = audience(r)

    created = fanout.create_deliveries(r, [story_id], get_settings())

    assert len(created) == len(set(created)) == COUNT
    assert sorted(created) == sorted(r.lrange(f"story:{story_id}:deliveries", 0, -1))
