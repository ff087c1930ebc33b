"""Delivery throughput: alerts per second sent by the real workers, side by side with the limits
measured in the same run (never against a table: this host is shared and noisy).

Limits, all into sinks that run in a process of their own (a bare asyncio HTTP sink and aiosmtpd,
counting what they accept): aiohttp and httpx POSTs at c=50 with keep-alive, `requests.post` (a new
connection each, as Apprise sends), Apprise `json://` with a new object per message; smtplib with a
new connection per message and with one connection reused, Apprise `mailto://` (new object each).
Parts, in this process and one thread: `via_apprise.send_via_apprise` (guard + Apprise, after render) and
`dispatch.send_deliveries` (the ledger around it).
Service: `notifier worker` for the poll queue as `notifier run` starts it, two deliver workers
(threads x 8) and `notifier beat`. K subscribers, each with its own URL, follow one topic; one
story is claimed and the tick fans it out; the figure runs from the claim until the ledger counts K
sent. Once with the rate limiter out of the way (`?rate=100000/s` on every URL) and once with the
defaults (webhook host 50/s burst 100, SMTP host 10/s burst 20): that run is paced as configured.
Fan-out: one story matched to FANOUT subscribers, `pipeline.fan_out` in this process, then the
deliver tasks enqueued through the real Celery app in DELIVER_BATCH chunks, as the fan_out task
does (no worker runs then, so nothing is sent).

BENCH_SUBSCRIBERS sets K (default 2000), BENCH_FANOUT the fan-out size (default 100000);
BENCH_PROFILE=DIR records py-spy profiles of the deliver workers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.policy
import json
import logging
import os
import shutil
import smtplib
import ssl
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import apprise
import httpx
import requests
from aiosmtpd.smtp import SMTP, AuthResult

from benchmarks.polling import tree_cpu
from benchmarks.stack import own_redis, service, side_by_side
from notifier import pipeline
from notifier.alerts import dispatch, pacing
from notifier.alerts.channels.via_apprise import send_via_apprise
from notifier.alerts.render import render_for
from notifier.core.db import connect
from notifier.core.due import chunks
from notifier.core.embedded import free_port
from notifier.models import Story, Subscriber, Topic
from notifier.settings import Settings, get_settings
from notifier.stories import claim, store
from tests.service import wait_until
from workers.supervisor import child_commands

K = int(os.environ.get("BENCH_SUBSCRIBERS", "10000"))
FANOUT = int(os.environ.get("BENCH_FANOUT", "100000"))
PACED = {"webhook": 600, "email": 150}  # enough to see the default rate hold past its burst
EMAIL = K // 4  # Apprise mailto:// is ~10x slower than json://: keeps the run short
CLIENTS = 50
SLICE = 2.5  # seconds per raw measurement
RUN_CAP = 90.0  # seconds at most per service run, whatever the service manages
UNLIMITED = "100000/s"
DELIVER = child_commands()["worker-deliver"][3:]  # the deliver worker exactly as `notifier run` starts it
# processes sending in the service: each has its own event loop (c=50 per webhook destination)
# and one SMTP lane, so one connection, per mail server
PROCESSES = int(DELIVER[DELIVER.index("--concurrency") + 1]) if "prefork" in DELIVER else 1
BIG_BATCH = 200  # deliveries per task in the enqueue comparison
STORY = {  # what a json:// alert carries: a story as the service renders it, ~0.7 KB
    "id": "b1e2c3d4e5f60718",
    "feed": "f0a1b2c3d4",
    "title": "Breaking: parliament approves emergency budget after all-night talks",
    "link": "https://news.example.com/world/2025/06/02/parliament-budget-approved",
    "summary": "Lawmakers voted 312 to 290 in the early hours after the coalition agreed to cut "
    "spending on defence and raise the tax on energy profits. " * 3,
    "published": "2025-06-02T09:30:00Z",
    "topics": ["politics"],
}


# -- the sinks: their own process, so they have their own core and GIL -------------------------------


class Sinks:
    """A webhook sink (bare asyncio HTTP/1.1, any POST answered 200 `{}`) and aiosmtpd accepting
    any AUTH; both count what they accept. GET /_stats on the HTTP port returns the counts."""

    def __init__(self) -> None:
        self.http_port, self.smtp_port, self.process = free_port(), free_port(), None
        self.ports = (self.http_port, self.smtp_port)

    def __enter__(self) -> Sinks:
        command = [sys.executable, "-m", "benchmarks.delivery", "sinks", *map(str, self.ports)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=Path(__file__).parent.parent)
        if self.process.stdout.readline().strip() != b"ready":
            self.__exit__()
            raise RuntimeError("the sinks did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/_stats", timeout=10) as response:
            return json.loads(response.read())

    def hook(self, i: int, scheme: str = "json", rate: str | None = None) -> str:
        return f"{scheme}://127.0.0.1:{self.http_port}/hook/{i}" + (f"?rate={rate}" if rate else "")

    def mailto(self, i: int, rate: str | None = None) -> str:
        return (
            f"mailto://user:pass@localhost:{self.smtp_port}?smtp=127.0.0.1&from=a@example.com"
            f"&to=reader{i}@example.com&mode=insecure" + (f"&rate={rate}" if rate else "")
        )


class _Hook(asyncio.Protocol):
    def __init__(self, counts: dict) -> None:
        self.counts, self.buffer, self.transport = counts, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end_of_head := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = self.buffer[:end_of_head].split(b"\r\n")
            headers = dict(_header(line) for line in lines[1:])
            end = end_of_head + 4 + int(headers.get(b"content-length") or 0)
            if len(self.buffer) < end:
                return  # the rest of the body is still on its way
            self.buffer = self.buffer[end:]
            self.transport.write(self.answer(lines[0].split(b" ")[0]))
            if headers.get(b"connection", b"").lower() == b"close":
                self.transport.close()
                return

    def answer(self, method: bytes) -> bytes:
        if method == b"POST":
            self.counts["http"] += 1
            body = b"{}"
        else:
            body = json.dumps(self.counts).encode()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        return head % len(body) + body


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


class _Mailbox:
    def __init__(self, counts: dict) -> None:
        self.counts = counts

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.counts["smtp"] += 1
        return "250 OK"


def _accept_any(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=True)


async def serve_sinks(http_port: int, smtp_port: int) -> None:
    counts, loop = {"http": 0, "smtp": 0}, asyncio.get_running_loop()
    mailbox = _Mailbox(counts)
    hooks = await loop.create_server(lambda: _Hook(counts), "127.0.0.1", http_port, backlog=4096)
    # AUTH in clear is fine on loopback; Apprise logs in whenever the URL has a user
    session = lambda: SMTP(mailbox, hostname="sink", auth_require_tls=False, authenticator=_accept_any)  # noqa: E731
    smtp = await loop.create_server(session, "127.0.0.1", smtp_port, backlog=4096)
    print("ready", flush=True)
    async with hooks, smtp:
        await asyncio.gather(hooks.serve_forever(), smtp.serve_forever())


# -- the limits ---------------------------------------------------------------------------------------


def measured(sinks: Sinks, kind: str, work) -> dict:
    """Messages per second, per CPU-second of this process, and how busy the sinks were."""
    before, sink_cpu = sinks.stats()[kind], tree_cpu(sinks.pid)
    wall, cpu = time.perf_counter(), time.process_time()
    done = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done, rate = done if isinstance(done, tuple) else (done, done / wall)  # side_by_side: its own rate
    accepted = sinks.stats()[kind] - before
    if accepted != done:  # an error a client returned instead of raising
        raise RuntimeError(f"{done} {kind} messages sent, {accepted} accepted")
    sink_cores = (tree_cpu(sinks.pid) - sink_cpu) / wall
    return {"per_s": rate, "per_cpu_s": done / cpu, "sink_cores": sink_cores}


def repeated(send_one) -> int:
    """Call send_one(i) for SLICE seconds; the count."""
    done, deadline = 0, time.monotonic() + SLICE
    while time.monotonic() < deadline:
        send_one(done)
        done += 1
    return done


def webhook_limits(sinks: Sinks) -> dict:
    body = json.dumps(STORY).encode()
    urls = [sinks.hook(i, scheme="http") for i in range(CLIENTS)]

    def post(i: int) -> None:
        requests.post(urls[i % CLIENTS], data=body, timeout=5).raise_for_status()

    def notify(i: int) -> None:
        _apprise(sinks.hook(i), STORY["title"], body.decode(), None)

    return {
        "aiohttp": measured(sinks, "http", lambda: aiohttp_posts(urls, body)),
        "aiohttp_as_service": measured(
            sinks, "http", lambda: side_by_side(PROCESSES, aiohttp_posts, urls, body)
        ),
        "httpx": measured(sinks, "http", lambda: asyncio.run(_httpx_posts(urls, body))),
        "requests_new_connection": measured(sinks, "http", lambda: repeated(post)),
        "apprise_json": measured(sinks, "http", lambda: repeated(notify)),
    }


def aiohttp_posts(urls: list[str], body: bytes) -> int:
    return asyncio.run(_aiohttp_posts(urls, body))


async def _aiohttp_posts(urls: list[str], body: bytes) -> int:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:

        async def post(url: str) -> None:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()
                response.raise_for_status()

        return await _lanes(urls, post)


async def _httpx_posts(urls: list[str], body: bytes) -> int:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits) as client:

        async def post(url: str) -> None:
            response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
            response.raise_for_status()

        return await _lanes(urls, post)


async def _lanes(urls: list[str], post) -> int:
    deadline = time.monotonic() + SLICE

    async def lane(url: str) -> int:
        done = 0
        while time.monotonic() < deadline:
            await post(url)
            done += 1
        return done

    return sum(await asyncio.gather(*(lane(url) for url in urls)))


def _apprise(url: str, title: str, body: str, body_format: str | None) -> None:
    sender = apprise.Apprise()
    sender.add(url)
    if not sender.notify(title=title, body=body, body_format=body_format):
        raise RuntimeError(f"Apprise did not send to {url}")


def email_limits(sinks: Sinks) -> dict:
    message = _email()
    raw = message.as_bytes(policy=email.policy.SMTP)  # CRLF lines, as send_message would send

    def notify(i: int) -> None:
        _apprise(sinks.mailto(i), message["Subject"], message.get_content(), "html")

    return {
        "smtplib_new_connection": measured(
            sinks, "smtp", lambda: repeated(lambda i: _smtp_once(sinks, message))
        ),
        "smtplib_reused": measured(sinks, "smtp", lambda: smtp_reused(sinks.smtp_port, raw)),
        "smtplib_as_service": measured(
            sinks, "smtp", lambda: side_by_side(PROCESSES, smtp_reused, sinks.smtp_port, raw)
        ),
        "apprise_mailto": measured(sinks, "smtp", lambda: repeated(notify)),
        "ssl_default_context": _ssl_contexts(),
    }


def _ssl_contexts() -> dict:
    """What Apprise's SMTP controller builds before every e-mail, even with mode=insecure."""
    started = time.perf_counter()
    done = repeated(lambda i: ssl.create_default_context())
    return {"per_s": done / (time.perf_counter() - started)}


def _email() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "reader@example.com", STORY["title"]
    message.set_content(
        f"<html><body><h1>{STORY['title']}</h1><p>{STORY['summary'] * 3}</p>"
        f'<p><a href="{STORY["link"]}">Read more</a></p></body></html>',
        subtype="html",
    )
    return message


def _smtp_once(sinks: Sinks, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", sinks.smtp_port, timeout=5) as smtp:
        smtp.login("user", "pass")
        smtp.send_message(message)


def smtp_reused(port: int, message: bytes) -> int:
    """smtplib over one connection, logged in once, for SLICE seconds."""
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.login("user", "pass")
        return repeated(lambda i: smtp.sendmail("a@example.com", ["reader@example.com"], message))


# -- the service's parts, in this process ---------------------------------------------------------------


def _apprise_send(url: str, story: dict, settings: Settings) -> None:
    """Render and send one alert through the Apprise channel, as the service does for non-pooled URLs."""
    send_via_apprise(url, render_for(url, story, [], settings), True)


def parts_alone(sinks: Sinks, url: str) -> dict:
    """The Apprise channel and dispatch.send_deliveries on one thread, on a database of their own
    (the service uses 0)."""
    r = connect(url.rsplit("/", 1)[0] + "/1")
    settings = Settings(redis_url=url, allow_private_hosts=True)
    topic = "parts"
    store.add_topic(r, Topic(topic, topic))
    add_subscribers(r, topic, [sinks.hook(i, rate=UNLIMITED) for i in range(K)], "part")
    ids = pipeline.route_stories(r, [publish(r, topic)], settings)
    story = {**STORY, "id": "p", "feed": "f"}
    figures = {
        "send_json": measured(
            sinks, "http", lambda: repeated(lambda i: _apprise_send(sinks.hook(i), story, settings))
        ),
        "dispatch_json": measured(sinks, "http", lambda: _dispatch(r, ids[:-20], settings)),
        "per_alert": _calls_per_alert(r, ids[-20:], settings),
    }
    r.flushdb()
    return figures


def _dispatch(r, ids: list[str], settings: Settings) -> int:
    done, deadline = 0, time.monotonic() + SLICE
    while time.monotonic() < deadline and done < len(ids):
        dispatch.send_deliveries(r, ids[done : done + 20], settings).wait()
        done += len(ids[done : done + 20])
    return done


def _calls_per_alert(r, ids: list[str], settings: Settings) -> dict:
    """Redis round trips (a pipeline is one) and Apprise URL parses per alert, counted in every
    thread (sends are recorded on the recording thread) by wrapping the two calls."""
    import redis.connection

    counted = {
        "redis_round_trips": (redis.connection.AbstractConnection, "send_packed_command"),
        "apprise_instantiate": (apprise.Apprise, "instantiate"),
    }
    calls = dict.fromkeys(counted, 0)
    saved = {name: getattr(owner, attr) for name, (owner, attr) in counted.items()}

    def counting(name, original):
        def call(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        return staticmethod(call) if name == "apprise_instantiate" else call

    try:
        for name, (owner, attr) in counted.items():
            setattr(owner, attr, counting(name, saved[name]))
        dispatch.send_deliveries(r, ids, settings).wait()
    finally:
        for name, (owner, attr) in counted.items():
            setattr(owner, attr, staticmethod(saved[name]) if name == "apprise_instantiate" else saved[name])
    return {name: count / len(ids) for name, count in calls.items()}


# -- the service ---------------------------------------------------------------------------------------


def add_subscribers(r, topic: str, urls: list[str], prefix: str) -> None:
    """Pipelined, in store.add_subscriber's own format (the CLI needs ~0.1 s per subscriber)."""
    subs = [Subscriber(f"{prefix}{i}", (url,), (topic,)) for i, url in enumerate(urls)]
    for batch in chunks(subs, 1000):
        pipe = r.pipeline(transaction=False)
        pipe.hset(
            "subscribers", mapping={s.name: json.dumps(dataclasses.asdict(s) | {"name": None}) for s in batch}
        )
        pipe.sadd(f"topic:{topic}:subs", *(s.name for s in batch))
        pipe.hset(
            f"topic:{topic}:targets",
            mapping={store.target_field(s.name, s.urls[0]): store.target_entry(s, s.urls[0]) for s in batch},
        )
        pipe.execute()
    if store.get_subscriber(r, f"{prefix}0").urls != (urls[0],):  # the store's format moved on
        raise RuntimeError("subscribers written here do not read back through notifier.stories.store")


def publish(r, word: str) -> str:
    """Claim one new story whose title matches topic `word`; it waits in stories:pending for a tick."""
    story = Story(
        id=f"bench-{word}-{time.time_ns()}",
        feed_id="bench",
        title=f"Breaking: {word} {STORY['title']}",
        link=f"{STORY['link']}/{word}",
        published=None,
        summary=STORY["summary"],
        guid=f"{word}{time.time_ns()}",
    )
    claimed = claim.claim_stories(r, "bench", [story], story_ttl=3600, title_ttl=3600, pending_at=time.time())
    if claimed != [story.id]:
        raise RuntimeError(f"story {story.id} was not claimed as new")
    return story.id


def service_runs(sinks: Sinks, url: str) -> dict:
    r = connect(url)
    plans = {  # name: subscribers, their URLs, the burst the limiter lets through at once
        "warm_up": (50, lambda i: sinks.hook(10**6 + i, rate=UNLIMITED), 1),  # URLs no run uses
        "webhook_unlimited": (K, lambda i: sinks.hook(i, rate=UNLIMITED), 1),
        "webhook_paced": (PACED["webhook"], sinks.hook, pacing.WEBHOOK_HOST.burst),
        "email_unlimited": (EMAIL, lambda i: sinks.mailto(i, rate=UNLIMITED), 1),
        "email_paced": (PACED["email"], sinks.mailto, pacing.SMTP_HOST.burst),
    }
    for name, (count, url_of, _) in plans.items():
        store.add_topic(r, Topic(_word(name), _word(name)))
        add_subscribers(r, _word(name), [url_of(i) for i in range(count)], f"{name}-")
    with service(url) as svc:
        svc.start("worker-poll", *child_commands()["worker-poll"][3:])
        svc.start("worker-tick", *child_commands()["worker-tick"][3:])
        workers = [svc.start("worker-deliver", *DELIVER).pid]
        svc.start("beat", "beat")
        if not wait_until(lambda: r.get("heartbeat:worker") and r.get("heartbeat:tick"), timeout=60):
            raise RuntimeError(f"the service did not start\n{svc.logs()}")
        results = {}
        for name, (count, _, burst) in plans.items():
            r.delete(*r.keys("rl:*") or ["-"])  # each run starts with full buckets
            with profiled(name, workers) as shares:
                results[name] = alert_run(r, sinks, name, count, burst, workers)
            results[name] |= {"cpu_shares_pct": shares} if shares else {}
            if results[name]["sent"] < count:
                results[name]["logs"] = svc.logs()[-3000:]
    results.pop("warm_up")  # both workers have loaded Apprise's plugins and opened their connections
    return results


def _word(name: str) -> str:
    """A topic per run, and a word that only that run's story contains."""
    return "zz" + name.replace("_", "")


def alert_run(r, sinks: Sinks, name: str, count: int, burst: int, workers: list[int]) -> dict:
    """From the claim of one story to `count` alerts in the ledger; `steady` leaves out the tick's
    wait, the fan-out and the limiter's first burst: the rate once sends are flowing."""
    kind = "smtp" if name.startswith("email") else "http"
    base, received, redis_cpu = _counts(r), sinks.stats()[kind], _redis_cpu(r)
    cpu, started = sum(map(tree_cpu, workers)), time.monotonic()
    publish(r, _word(name))
    first, flowing, counts = None, None, base
    while time.monotonic() < started + RUN_CAP:
        counts = _counts(r)
        first = first or (time.monotonic() if counts["sent"] > base["sent"] else None)
        flowing = flowing or (time.monotonic() if counts["sent"] - base["sent"] >= burst else None)
        if counts["sent"] - base["sent"] + counts["failed"] - base["failed"] >= count:
            break
        time.sleep(0.02)
    done = time.monotonic()
    sent, worker_cpu = counts["sent"] - base["sent"], sum(map(tree_cpu, workers)) - cpu
    return {
        "subscribers": count,
        "sent": sent,
        "failed": counts["failed"] - base["failed"],
        "received": sinks.stats()[kind] - received,
        "elapsed_s": done - started,
        "first_send_s": (first or done) - started,
        "alerts_per_s": sent / (done - started),
        "steady_alerts_per_s": (sent - burst) / (done - flowing) if flowing and done > flowing else 0.0,
        "worker_cpu_s": worker_cpu,
        "worker_cpu_ms_per_alert": 1000 * worker_cpu / max(sent, 1),
        "alerts_per_cpu_s": sent / max(worker_cpu, 0.01),
        "redis_cpu_s": _redis_cpu(r) - redis_cpu,
    }


def _counts(r) -> dict[str, int]:
    sent, failed = r.hmget("deliveries:count", "sent", "failed")
    return {"sent": int(sent or 0), "failed": int(failed or 0)}


def _redis_cpu(r) -> float:
    info = r.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


@contextmanager
def profiled(name: str, pids: list[int]):
    """With BENCH_PROFILE=DIR and py-spy installed: each worker's stacks in DIR/name-PID.txt, and
    the dict yielded filled with where the CPU went (cpu_shares).

    `--gil` samples only the thread holding the GIL: where the Python CPU goes. Without it, a thread
    waiting for the GIL after a socket call shows up in that call, and Redis looks dearer. Work in C
    with the GIL released (OpenSSL loading the CA store) is not seen: compare with the worker CPU."""
    out, spy = os.environ.get("BENCH_PROFILE"), shutil.which("py-spy", path=Path(sys.executable).parent)
    shares: dict[str, float] = {}
    if not (out and spy):
        yield shares
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    paths = [f"{out}/{name}-{pid}.txt" for pid in pids]
    with ExitStack() as stack:
        for pid, path in zip(pids, paths, strict=True):
            command = [spy, "record", "-p", str(pid), "--subprocesses", "--gil", "--nonblocking", "-r", "200"]
            command += ["-f", "raw", "-o", path]  # --nonblocking: pausing the workers would slow them
            recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(recorder.wait, timeout=30)
            stack.callback(recorder.send_signal, 2)  # SIGINT: py-spy writes what it has and stops
        yield shares
    shares.update(cpu_shares(paths))


# What a sampled stack was doing: the first part whose marker appears anywhere in it names it.
CPU_PARTS = [
    ("Apprise.instantiate (URL parsing)", ("Apprise.instantiate",)),
    ("Apprise() (AppriseLocale, gettext lookups)", ("Apprise.__init__",)),
    ("ssl.create_default_context", ("create_default_context",)),
    ("Apprise mailto: SMTP exchange, MIME", ("NotifyEmail.send",)),
    ("Apprise json: requests, new connection", ("NotifyJSON.send",)),
    ("Apprise notify(): thread pool, results", ("apprise/",)),
    ("netguard.resolve_public", ("resolve_public",)),
    ("redis-py round trips", ("redis/",)),
    ("render", ("render_for", "jinja2/")),
    ("Celery, kombu", ("celery/", "kombu/")),
]


def cpu_shares(paths: list[str]) -> dict[str, float]:
    """py-spy raw output (`frame;frame;... count` lines) -> % of samples per part of CPU_PARTS."""
    counts: dict[str, int] = {}
    for path in filter(os.path.exists, paths):
        for line in Path(path).read_text().splitlines():
            stack, _, samples = line.rpartition(" ")
            part = next((name for name, marks in CPU_PARTS if any(m in stack for m in marks)), "other")
            counts[part] = counts.get(part, 0) + int(samples)
    total = sum(counts.values()) or 1
    return {part: round(100 * n / total, 1) for part, n in sorted(counts.items(), key=lambda kv: -kv[1])}


# -- fan-out -------------------------------------------------------------------------------------------


def fan_out_alone(sinks: Sinks, url: str) -> dict:
    """One story to FANOUT subscribers: match + ledger in this process, then the deliver tasks
    enqueued on the real broker. No worker runs, so the queue is dropped afterwards unsent."""
    r = connect(url)
    r.flushdb()
    settings = Settings(redis_url=url, allow_private_hosts=True)
    started = time.perf_counter()
    store.add_topic(r, Topic("fanout", "zzfanout"))
    add_subscribers(r, "fanout", [sinks.hook(i) for i in range(FANOUT)], "fan-")
    setup = time.perf_counter() - started
    story_id = publish(r, "zzfanout")
    deliver = _deliver_task(url)
    started, redis_cpu = time.perf_counter(), _redis_cpu(r)
    created = pipeline.route_stories(r, [story_id], settings)
    matched, redis_cpu = time.perf_counter(), _redis_cpu(r) - redis_cpu
    batches = chunks(created, _deliver_batch(len(created)))
    for batch in batches:
        deliver.delay(batch)
    enqueued = time.perf_counter()
    queued = r.llen("deliver")
    r.delete("deliver")
    for batch in chunks(created, BIG_BATCH):  # for comparison: fewer, bigger tasks
        deliver.delay(batch)
    big = time.perf_counter() - enqueued
    r.flushdb()
    return {"subscribers": FANOUT, "setup_s": setup, "deliveries": len(created), "tasks": len(batches),
            "queued": queued, "fan_out_s": matched - started, "fan_out_redis_cpu_s": redis_cpu,
            "enqueue_s": enqueued - matched, "total_s": enqueued - started,
            "enqueue_s_big_batches": big}  # fmt: skip


def _deliver_task(url: str):
    """workers.tasks.deliver, with the Celery app pointed at our Redis (it reads the settings once)."""
    saved, os.environ["REDIS_URL"] = os.environ.get("REDIS_URL"), url
    get_settings.cache_clear()
    try:
        from workers.tasks import deliver
    finally:
        if saved is None:
            del os.environ["REDIS_URL"]
        else:
            os.environ["REDIS_URL"] = saved
        get_settings.cache_clear()
    if deliver.app.conf.broker_url != url:  # imported earlier in this process, for another Redis
        raise RuntimeError(f"the Celery app talks to {deliver.app.conf.broker_url}, not {url}")
    return deliver


def _deliver_batch(count: int) -> int:
    from workers.tasks import spread

    return spread(count)  # the batch size the fan_out task uses


# -- the report ------------------------------------------------------------------------------------------


def run() -> dict:
    load = os.getloadavg()[0]
    with own_redis() as url, Sinks() as sinks:
        limits = {**webhook_limits(sinks), **email_limits(sinks)}
        parts = parts_alone(sinks, url)
        served = service_runs(sinks, url)
        fanned = fan_out_alone(sinks, url)
    # a shared host: the 1-minute load before and after says how much of it others were using
    return report(limits, parts, served, fanned) | {"load_avg_1min": [load, os.getloadavg()[0]]}


def report(limits: dict, parts: dict, served: dict, fanned: dict) -> dict:
    aio, smtp = limits["aiohttp"]["per_s"], limits["smtplib_reused"]["per_s"]
    aio_shaped, smtp_shaped = limits["aiohttp_as_service"]["per_s"], limits["smtplib_as_service"]["per_s"]
    hooks, mails, per_alert = served["webhook_unlimited"], served["email_unlimited"], parts["per_alert"]
    aio2 = aio_shaped
    paced = {name: served[name]["steady_alerts_per_s"] for name in ("webhook_paced", "email_paced")}
    webhook_limit, smtp_limit = pacing.WEBHOOK_HOST.per_second, pacing.SMTP_HOST.per_second
    rate = {name: figures["per_s"] for name, figures in limits.items()}
    apprise_json, send_json, dispatch_json = rate["apprise_json"], parts["send_json"], parts["dispatch_json"]
    table = [
        ("limit: aiohttp POST, c=50 keep-alive, 1 process, /s", aio, None),
        (f"limit: aiohttp POST, c=50 keep-alive x {PROCESSES} processes, /s", aio_shaped, None),
        ("limit: httpx POST, c=50 keep-alive, /s", rate["httpx"], aio),
        ("limit: requests.post, new connection each, /s", rate["requests_new_connection"], aio),
        ("limit: Apprise json://, new object each, /s", rate["apprise_json"], aio),
        ("limit: smtplib, new connection each, /s", rate["smtplib_new_connection"], smtp),
        ("limit: smtplib, one connection reused, /s", smtp, None),
        (f"limit: smtplib, {PROCESSES} connections reused at once, /s", smtp_shaped, None),
        ("limit: Apprise mailto://, new object each, /s", rate["apprise_mailto"], smtp),
        ("limit: ssl.create_default_context(), /s", rate["ssl_default_context"], None),
        ("part: render + send_via_apprise json://, 1 thread, /s", send_json["per_s"], apprise_json),
        ("part: dispatch.send_deliveries json://, 1 caller, /s", dispatch_json["per_s"], apprise_json),
        ("part: Redis round trips per alert", per_alert["redis_round_trips"], None),
        ("part: Apprise URL parses per alert", per_alert["apprise_instantiate"], None),
        ("service: webhook alerts/s, first to last (target >= 0.5)", hooks["steady_alerts_per_s"], aio2),
        ("service: webhook alerts/s, claim to last (tick wait in)", hooks["alerts_per_s"], aio_shaped),
        ("service: webhook alerts/s, first to last, vs 1 process", hooks["steady_alerts_per_s"], aio),
        ("service: webhook, worker CPU ms per alert", hooks["worker_cpu_ms_per_alert"], None),
        ("service: webhook alerts/s, default limit, steady", paced["webhook_paced"], webhook_limit),
        ("service: email alerts/s, first to last (target >= 0.5)", mails["steady_alerts_per_s"], smtp_shaped),
        ("service: email alerts/s, claim to last (tick wait in)", mails["alerts_per_s"], smtp_shaped),
        ("service: email, worker CPU ms per alert", mails["worker_cpu_ms_per_alert"], None),
        ("service: email alerts/s, default limit, steady", paced["email_paced"], smtp_limit),
        (f"fan-out {FANOUT:,}: match + ledger, s", fanned["fan_out_s"], None),
        (f"fan-out {FANOUT:,}: enqueue {fanned['tasks']:,} tasks, s", fanned["enqueue_s"], None),
        (f"fan-out {FANOUT:,}: enqueued in s (target <= 10)", fanned["total_s"], 10),
        (f"fan-out {FANOUT:,}: enqueue, tasks of {BIG_BATCH}, s", fanned["enqueue_s_big_batches"], None),
    ]  # fmt: skip
    table = [(measure, value, round(limit, 1) if limit else None) for measure, value, limit in table]
    return {"subscribers": K, "limits": limits, "parts": parts, "service": served, "fan_out": fanned,
            "table": table}  # fmt: skip


if __name__ == "__main__" and sys.argv[1:2] == ["sinks"]:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns about itself on every login
    asyncio.run(serve_sinks(int(sys.argv[2]), int(sys.argv[3])))
