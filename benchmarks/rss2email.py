"""Versus rss2email: the same feeds, the same change, the same SMTP sink; who has the e-mails out first.

rss2email (the tool a user would otherwise pick) is installed into its own virtual environment in
benchmarks/.work/ (kept between runs while its version matches). Both read COUNT feeds from one
local feed server and send to one aiosmtpd sink, each to its own address:

- rss2email: `r2e new`, `r2e add` for each feed (its own command, called in one interpreter: 100
  separate starts take ~2 minutes on a busy machine and are not what is measured), a first
  `r2e run --no-send` to take the items present as seen. A round: one new item in every feed,
  then `r2e run`; timed from the change to the last e-mail at the sink.
- ours: the service as `notifier run` starts it, each feed added with `--interval 1`, one topic
  matching every story, one subscriber with a mailto:// URL, baseline polled. A round: one new
  item in every feed; timed from the change to the last e-mail. The 1 s interval means up to a
  second of the figure is waiting for the next poll; the note gives the time from the first poll
  after the change too (processing alone).

The rounds of each run one after the other, never at the same time. Each must deliver exactly
COUNT e-mails per round, and our ledger must say as many were sent; anything else raises.
"""

from __future__ import annotations

import configparser
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.newsroom import Newsroom, watch
from benchmarks.records import Record, Target
from benchmarks.stack import own_redis, service
from benchmarks.timeline import delivery_times, first_fetches, summary
from notifier.alerts import ledger
from notifier.core.db import connect
from notifier.feeds.parse import parse_feed
from tests.feedserver import FeedServer
from tests.service import wait_until
from tests.sinks import SmtpSink
from workers.supervisor import child_commands

VERSION = "3.14"
WORK = Path(__file__).resolve().parent / ".work"
THEIRS, OURS = "r2e@example.com", "ours@example.com"


class TimedSink(SmtpSink):
    """The SMTP sink, noting when each message arrived and for whom."""

    def __init__(self) -> None:
        super().__init__()
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation line per login
        self.arrivals: list[tuple[float, str]] = []
        self.subjects: dict[str, float] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        answer = await super().handle_DATA(server, session, envelope)
        self.arrivals.append((time.time(), ",".join(envelope.rcpt_tos)))
        self.subjects[str(self.messages[-1]["Subject"])] = self.arrivals[-1][0]
        return answer

    def times(self, to: str, since: int = 0) -> list[float]:
        return [at for at, rcpt in self.arrivals[since:] if to in rcpt]


def run(quick: bool = False) -> list[Record]:
    count, rounds = (20, 1) if quick else (100, 3)
    python = installed()
    WORK.mkdir(exist_ok=True)
    with FeedServer() as server, TimedSink() as smtp, tempfile.TemporaryDirectory(dir=WORK) as tmp:
        news = Newsroom(server, count, seed=5)
        r2e = Rss2email(python, Path(tmp), smtp.port)
        r2e.prepare(news, count)
        theirs = [r2e.round(news, smtp, count) for _ in range(rounds)]
        ours, first_polls, stages = our_rounds(server, news, smtp, count, rounds)
        parsing = parse_alone(news, count)
    return records(count, theirs, ours, first_polls, f"{stages}; {parsing}", quick)


def installed() -> Path:
    """The python of a venv with rss2email VERSION in it, built the first time."""
    venv = WORK / f"rss2email-{VERSION}"
    python = venv / "bin" / "python"
    probe = [python, "-c", "from rss2email import __version__ as v; print(v)"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == VERSION:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"rss2email=={VERSION}"]
    subprocess.run(pip, check=True)
    return python


class Rss2email:
    def __init__(self, python: Path, home: Path, smtp_port: int):
        self.python, self.home = python, home
        self.config, self.data = home / "r2e.cfg", home / "r2e.json"
        self.settings = {
            "from": "r2e-sender@example.com",
            "email-protocol": "smtp",
            "smtp-server": f"127.0.0.1:{smtp_port}",
            "smtp-auth": "False",
            "smtp-ssl": "False",
            "same-server-fetch-interval": "0",  # its default too: no pause between feeds of one host
            "verbose": "warning",
        }

    def r2e(self, *commands: list[str]) -> None:
        """Each of `commands` as `r2e -c CONFIG -d DATA COMMAND...`, one after the other in one
        interpreter; a failing one raises with its output."""
        argvs = [["-c", str(self.config), "-d", str(self.data), *command] for command in commands]
        script = f"from rss2email.main import run\nfor argv in {argvs!r}:\n    run(argv)\n"
        env = {
            "XDG_RUNTIME_DIR": str(self.home),
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
        }  # its lock file: here
        done = subprocess.run(
            [self.python, "-c", script], capture_output=True, text=True, env=env, cwd=self.home
        )
        if done.returncode != 0 or "[ERROR]" in done.stderr:
            raise RuntimeError(f"r2e {commands[0][0]}... failed ({done.returncode}): {done.stderr[-2000:]}")

    def prepare(self, news: Newsroom, count: int) -> None:
        self.r2e(["new", THEIRS])  # writes its config file with every default; then ours on top
        config = configparser.ConfigParser(interpolation=None)
        config.read(self.config)
        config["DEFAULT"].update(self.settings)
        with self.config.open("w") as out:
            config.write(out)
        self.r2e(*[["add", f"feed{n}", news.url(n)] for n in range(count)])
        self.r2e(["run", "--no-send"])

    def round(self, news: Newsroom, smtp: TimedSink, count: int) -> float:
        """One new item in every feed, then `r2e run`: seconds from the change to the last e-mail."""
        mark, changed = len(smtp.arrivals), time.time()
        for n in range(count):
            news.publish(n)
        self.r2e(["run"])
        arrived = smtp.times(THEIRS, mark)
        if len(arrived) != count:
            raise RuntimeError(f"rss2email sent {len(arrived)} e-mails for {count} new items")
        return max(arrived) - changed


def our_rounds(server: FeedServer, news: Newsroom, smtp: TimedSink, count: int, rounds: int):
    """(wall seconds of each round, seconds from the first poll after the change to the last e-mail)."""
    walls, processing, published = [], [], []
    with own_redis() as url, service(url) as svc:
        r = connect(url)
        for name, argv in child_commands().items():
            svc.spawn(name, argv)
        # rss2email sends as fast as the server takes them; our default pace for one SMTP host is
        # 10/s after a burst of 20 (pacing.SMTP_HOST), polite to a provider, so: a local relay's rate
        watch(url, dict.fromkeys(map(news.url, range(count)), 1), smtp.url(OURS) + "&rate=1000/s")
        if not wait_until(lambda: baselines_done(r), timeout=90, interval=0.3):
            raise RuntimeError(f"the service had not polled every feed within 90 s\n{svc.logs()}")
        time.sleep(2)  # every feed polled again since: steady 304s, as a running service is
        for _ in range(rounds):
            mark, changed = len(smtp.arrivals), time.time()
            published += [Published(*news.publish(n), path=news.path(n)) for n in range(count)]
            if not wait_until(lambda m=mark: len(smtp.times(OURS, m)) >= count, timeout=60, interval=0.02):
                raise RuntimeError(f"{len(smtp.times(OURS, mark))} of {count} e-mails arrived\n{svc.logs()}")
            time.sleep(1)  # room for a wrong extra e-mail to show up
            arrived = smtp.times(OURS, mark)
            first_poll = min(q.at for q in server.requests if q.at >= changed and q.path.startswith("/news/"))
            walls.append(max(arrived) - changed)
            processing.append(max(arrived) - first_poll)
        stages = where_the_time_went(r, server, smtp, published)
        sent, got = ledger.summary(r)["counts"].get("sent", 0), len(smtp.times(OURS))
        if not sent == got == count * rounds:
            raise RuntimeError(
                f"the sink got {got} e-mails, the ledger says {sent} sent, {count * rounds} due"
            )
    return walls, processing, stages


@dataclass
class Published:
    title: str
    at: float
    path: str


def where_the_time_went(r, server: FeedServer, smtp: TimedSink, published: list[Published]) -> str:
    fetched, created = first_fetches(server, published), delivery_times(r)
    stages = {
        "poll wait": [fetched[p.title] - p.at for p in published],
        "fetch -> ledger": [created[p.title] - fetched[p.title] for p in published],
        "ledger -> received": [smtp.subjects[p.title] - created[p.title] for p in published],
    }
    return summary(stages)


def parse_alone(news: Newsroom, count: int) -> str:
    """The floor under any feedparser-based tool, ours and rss2email alike: every changed feed
    parsed once. Timed here, on one core, on the bodies the last round served."""
    started = time.process_time()
    for n in range(count):
        parse_feed(news.body(n), feed_id="f", url=news.url(n), content_type="application/rss+xml")
    seconds = time.process_time() - started
    rate = count / seconds
    return f"parse_feed alone on the {count} changed bodies: {seconds:.2f} s CPU ({rate:.0f} feeds/s a core)"


def baselines_done(r) -> bool:
    pipe = r.pipeline(transaction=False)
    for feed_id in r.smembers("feeds"):
        pipe.hget(f"feed:{feed_id}", "baseline_done")
    return all(value == "true" for value in pipe.execute())


def records(count: int, theirs: list, ours: list, processing: list, stages: str, quick: bool):
    label = f" ({count} feeds, quick)" if quick else ""
    figure = f"{count} new items -> {count} e-mails"
    rates, their_rates = [count / s for s in ours], [count / s for s in theirs]
    fair = statistics.median(count / s for s in processing)
    return [
        Record(
            "rss2email",
            f"rss2email 3.14: {figure}, wall{label}",
            "s",
            theirs,
            note="`r2e run` after the change",
        ),
        Record(
            "rss2email",
            f"ours: {figure}, wall{label}",
            "s",
            ours,
            note=f"feeds polled every 1 s; from the first poll after the change: "
            f"{statistics.median(processing):.2f} s; stages of each e-mail p50/p99: {stages}",
        ),
        Record(
            "rss2email",
            f"e-mails/s, ours vs rss2email{label}",
            "e-mails/s",
            rates,
            limit=statistics.median(their_rates),
            limit_runs=their_rates,
            target=Target(">=", 20, of="ratio"),
            note=f"limit: rss2email's rate; from the first poll on, ours is {fair:.0f} e-mails/s",
        ),
    ]
