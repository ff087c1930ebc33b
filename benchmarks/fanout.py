"""Fan-out at scale: one story for 1,000,000 subscribers, through the real tick and Celery.

Subscribers follow one to three of six topics (the story matches three of them, and every
subscriber follows at least one of those), one webhook URL each, stored with
`store.add_new_subscribers`. The service runs as `notifier run` starts its workers: the tick
worker (solo), the poll worker's command (prefork x2) serving a fan-out queue of its own
(`NOTIFIER_FANOUT_QUEUE=fanout`; fan-out shares `deliver` by default) and beat, on a Redis of its
own. No deliver worker runs: the figure is "matched, ledgered and enqueued", from the story's intake (its
claim, which puts it in `stories:pending`) until every ledger row exists and the deliver tasks
holding every one of them are in the `deliver` queue. It includes the wait for the next tick.

The limit, measured between the runs on the same Redis: the same number of rows written raw, one
HSET of a ledger row's fields and sizes and one ZADD each, as RESP encoded before the clock starts
and pipelined down one socket: what Redis itself needs to take the writes. Memory per ledger row
is Redis's used_memory after the run, with the deliver queue dropped, against before it.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
import time
from dataclasses import dataclass

from benchmarks.records import Record, Target
from benchmarks.sampler import Sampler
from benchmarks.stack import own_redis, service
from notifier.core.db import connect
from notifier.models import Story, Subscriber, Topic
from notifier.stories import claim, store
from tests.service import wait_until
from workers.supervisor import child_commands

NAME = "fanout"
TOPICS = {"quake": "earthquake", "japan": "japan OR tokyo", "tsunami": "tsunami", "asia": "asia"}
TOPICS |= {"science": "science", "markets": "markets OR shares"}
MATCHED = ("quake", "japan", "tsunami")  # what the story matches
TARGET_S = 10.0
FLOOR_CHUNK = 2000  # rows per write of the raw floor


@dataclass(frozen=True)
class Plan:
    subscribers: int
    runs: int


FULL, QUICK = Plan(1_000_000, 2), Plan(20_000, 3)  # a full run is minutes on a busy host


def run(quick: bool = False) -> list[Record]:
    plan = QUICK if quick else FULL
    # fan-out on a queue of its own (NOTIFIER_FANOUT_QUEUE), served by the poll worker's command
    # with that queue: no deliver worker runs, so every deliver task stays in the queue to count
    with own_redis() as url, service(url, NOTIFIER_FANOUT_QUEUE="fanout") as svc:
        r = connect(url)
        setup_s, per_subscriber = add_audience(r, plan.subscribers)
        commands = child_commands()
        worker = commands["worker-poll"]
        worker[worker.index("--queues") + 1] = "fanout"
        for name in ("worker-tick", "worker-poll", "beat"):
            svc.start(name, *commands[name][3:])
        if not wait_until(lambda: r.get("heartbeat:worker") and r.get("heartbeat:tick"), timeout=90):
            raise RuntimeError(f"the service did not start\n{svc.logs()}")
        roots = {"poll": svc.procs["worker-poll"].pid, "tick": svc.procs["worker-tick"].pid}
        runs, floors = [], []
        with Sampler(roots | {"redis": r.info("server")["process_id"]}, every=1.0) as sampler:
            for k in range(plan.runs):
                floors.append(raw_floor(url, plan.subscribers))
                runs.append(one_story(r, k, plan.subscribers, sampler))
                if runs[-1]["rows"] != plan.subscribers:
                    raise RuntimeError(f"{runs[-1]['rows']} ledger rows for {plan.subscribers}\n{svc.logs()}")
    return records(plan, runs, floors, setup_s, per_subscriber, sampler)


# -- the audience --------------------------------------------------------------------------------------


def add_audience(r, count: int) -> tuple[float, float]:
    """Topics and `count` subscribers; (seconds to store them, Redis bytes per subscriber)."""
    for name, expr in TOPICS.items():
        store.add_topic(r, Topic(name, expr))
    rng, names, before = random.Random(13), sorted(TOPICS), r.info("memory")["used_memory"]
    started = time.perf_counter()
    for first in range(0, count, 100_000):
        subs = []
        for i in range(first, min(count, first + 100_000)):
            topics = rng.sample(names, rng.randint(1, 3))
            if not set(topics) & set(MATCHED):
                topics[0] = rng.choice(MATCHED)
            subs.append(Subscriber(f"sub-{i}", (f"json://127.0.0.1:9/hook/{i}?n={i % 97}",), tuple(topics)))
        store.add_new_subscribers(r, subs)
    elapsed = time.perf_counter() - started
    return elapsed, (r.info("memory")["used_memory"] - before) / count


# -- one story -------------------------------------------------------------------------------------------


def one_story(r, k: int, expected: int, sampler: Sampler) -> dict:
    """Claim a story the tick will find; wait for its ledger rows and every deliver task; and
    the CPU seconds each role used meanwhile (wall time on a shared host is mostly waiting)."""
    story = Story(
        id=f"quake-{k}-{time.time_ns()}",
        feed_id="bench",
        title=f"Earthquake of magnitude 7.{k} off Japan, tsunami warning issued (report {k})",
        link=f"https://news.example.com/asia/quake-{k}-{time.time_ns()}",
        published=None,
        summary="Residents of the coast were told to move to higher ground.",
        guid=f"quake-{k}-{time.time_ns()}",
    )
    before, queue = r.info("memory")["used_memory"], Queue(r, "deliver")
    sampler.sample()
    cpu, started = sampler.by_role(), time.perf_counter()
    if claim.claim_stories(r, "bench", [story], story_ttl=86400, title_ttl=3600, pending_at=time.time()) != [
        story.id
    ]:
        raise RuntimeError(f"story {story.id} was not claimed as new")
    first_row = rows_done = None
    while time.perf_counter() < started + 300:
        rows = r.llen(f"story:{story.id}:deliveries")
        first_row = first_row or (time.perf_counter() if rows else None)
        rows_done = rows_done or (time.perf_counter() if rows >= expected else None)
        if rows_done and queue.ids() >= expected:
            break
        time.sleep(0.02)
    enqueued = time.perf_counter()
    tasks = queue.seen
    sampler.sample()
    cpu = {role: used - cpu.get(role, 0.0) for role, used in sampler.by_role().items()}
    r.unlink("deliver")  # nobody sends them; and the rows must not fall due again in a later run
    r.unlink("deliveries:due")
    after = r.info("memory")["used_memory"]
    return {
        "rows": r.llen(f"story:{story.id}:deliveries"),
        "enqueued_ids": queue.count,
        "tasks": tasks,
        "total_s": enqueued - started,
        "first_row_s": (first_row or enqueued) - started,
        "rows_done_s": (rows_done or enqueued) - started,
        "bytes_per_row": (after - before) / max(1, expected),
        "cpu_s": {role: round(used, 1) for role, used in cpu.items() if used >= 0.05},
    }


class Queue:
    """Counts the delivery ids in a Celery queue's messages (kombu's Redis transport pushes each
    message on the list's head as JSON with a base64 body of [args, kwargs, embed])."""

    def __init__(self, r, name: str) -> None:
        self.r, self.name, self.seen, self.count = r, name, 0, 0

    def ids(self) -> int:
        length = self.r.llen(self.name)
        if length > self.seen:
            for raw in self.r.lrange(self.name, 0, length - self.seen - 1):
                args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
                self.count += len(args[0])
            self.seen = length
        return self.count


# -- the floor ---------------------------------------------------------------------------------------------


def raw_floor(url: str, rows: int) -> float:
    """Seconds for Redis to take `rows` ledger-sized HSETs and ZADDs, pipelined raw on one socket,
    into database 1 (emptied afterwards)."""
    chunks = [_floor_chunk(first, min(rows, first + FLOOR_CHUNK)) for first in range(0, rows, FLOOR_CHUNK)]
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(_resp("SELECT", "1"))
        _read_replies(sock, 1)
        started = time.perf_counter()
        sender = threading.Thread(target=lambda: [sock.sendall(chunk) for chunk in chunks])
        sender.start()
        _read_replies(sock, 2 * rows)
        elapsed = time.perf_counter() - started
        sender.join()
        sock.sendall(_resp("FLUSHDB"))
        _read_replies(sock, 1)
    return elapsed


def _floor_chunk(first: int, last: int) -> bytes:
    now, out = f"{time.time():.6f}", []
    for i in range(first, last):
        did = f"{i:016x}"
        out.append(
            _resp("HSET", f"delivery:{did}", "id", did, "story", f"quake-0-{1764000000000000000}",
                  "subscriber", f"sub-{i}", "url_hash", f"{i:012x}", "target", "json://127.0.0.1",
                  "state", "pending", "attempts", "0", "created", now, "updated", now)
        )  # fmt: skip
        out.append(_resp("ZADD", "deliveries:due", now, did))
    return b"".join(out)


def _resp(*parts: str) -> bytes:
    encoded = [part.encode() for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)


def _read_replies(sock: socket.socket, count: int) -> None:
    """Every reply here is one line (+OK or an integer): count the line ends."""
    seen = 0
    while seen < count:
        data = sock.recv(1 << 20)
        if not data:
            raise RuntimeError("Redis closed the connection")
        if b"-" in data[:1] or b"\r\n-" in data:
            raise RuntimeError(f"Redis refused a write: {data[:200]!r}")
        seen += data.count(b"\r\n")


# -- the records -----------------------------------------------------------------------------------------


def records(plan: Plan, runs: list[dict], floors: list[float], setup_s, per_subscriber, sampler) -> list:
    label = f"one story to {plan.subscribers:,} subscribers"
    middle = sorted(runs, key=lambda run: run["total_s"])[len(runs) // 2]
    rss = {role: size / 2**20 for role, size in sampler.peak_rss().items()}
    return [
        Record(NAME, f"{label}: matched, ledgered and enqueued, s", "s", [run["total_s"] for run in runs],
               limit=sorted(floors)[len(floors) // 2], limit_runs=floors, target=Target("<=", TARGET_S),
               note=f"median run: first row {middle['first_row_s']:.1f} s, "
               f"all rows {middle['rows_done_s']:.1f} s, "
               f"{middle['tasks']:,} deliver tasks, CPU s {middle['cpu_s']}; "
               "limit: the same rows as raw pipelined HSET+ZADD; "
               "peak RSS MB: " + ", ".join(f"{role} {mb:.0f}" for role, mb in sorted(rss.items()))),
        Record(NAME, "Redis memory per ledger row", "bytes", [run["bytes_per_row"] for run in runs],
               note="delivery hash, due-set entry, story list entry, same-event claim"),
        Record(NAME, f"{plan.subscribers:,} subscribers stored (store.add_new_subscribers)", "s", [setup_s],
               note=f"Redis bytes per subscriber (1 URL, 1-3 topics): {per_subscriber:,.0f}"),
    ]  # fmt: skip
