"""The processes the soak runs and breaks: two `notifier worker`, two `notifier beat` and one
`notifier run` node, each restarted at random moments by the chaos loop.

A kill is SIGKILL to the whole process group (a machine losing power: the node's children and a
worker's pool processes go with it) or SIGTERM to the process alone (what a supervisor or
`docker stop` sends: Celery's warm shutdown, the node stopping its children). A process that
does not stop within STOP_WAIT after SIGTERM is killed, and that is counted too.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from tests.service import Service
from tests.sinks import free_port

STOP_WAIT = 30.0
PARTS = ("w1", "w2", "beat1", "beat2", "node")
SIGNALS = ("SIGKILL", "SIGTERM")
ALONE = "SIGKILL to the supervisor alone"  # the node only: its process group lives on


class Cast:
    """Starts each part with its own data dir (beats keep their own schedule file)."""

    def __init__(self, service: Service, root: Path):
        self.service, self.root = service, root
        self.events: list[dict] = []
        self.counts: Counter = Counter()

    def start(self, part: str) -> None:
        data = {"NOTIFIER_DATA_DIR": str(self.root / f"data-{part}")}
        if part in ("w1", "w2"):
            args = ["worker", "--pool", "prefork", "--concurrency", "2", "--name", part]
        elif part == "node":  # its own API port; its workers are tick@, poll@ and deliver@
            args, data["NOTIFIER_API_PORT"] = ["run"], str(free_port())
        else:
            args = ["beat"]
        self.service.start(part, *args, env=data)

    def start_all(self) -> None:
        for part in PARTS:
            self.start(part)

    def break_one(self, part: str, how: str, down_for: float) -> dict:
        """Stop one part (SIGKILL or SIGTERM), leave it down a moment, start it again."""
        proc = self.service.procs.pop(part)
        event = {"at": time.time(), "part": part, "signal": how, "forced": False}
        if proc.poll() is not None:
            event["was_dead"] = proc.returncode  # died by itself: worth knowing
        elif how == "SIGKILL":
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        elif how == ALONE:  # `kill -9 PID` of the supervisor: its children must stop by themselves
            proc.kill()
            proc.wait()
        else:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                event["forced"] = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if left_behind(proc.pid, STOP_WAIT if how == ALONE else 0.5):
            event["left_behind"] = True
            self.counts[f"{part} left processes behind"] += 1
        time.sleep(down_for)
        self.start(part)
        self.events.append(event)
        self.counts[f"{part} {how}"] += 1
        return event

    def dead(self) -> list[str]:
        """Parts that exited without being told to (a node stops itself when a child dies)."""
        return [part for part, proc in self.service.procs.items() if proc.poll() is not None]


def left_behind(pgid: int, wait: float) -> bool:
    """Whether the stopped part left a live process of its group (a pool process, a node's
    child) after `wait`; if so it goes now, so a restarted part never shares its work with a
    ghost of itself. Zombies only wait to be reaped: they do not count."""
    deadline = time.monotonic() + wait
    while alive := [pid for pid, state in group_members(pgid) if state != "Z"]:
        if time.monotonic() > deadline:
            for pid in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return True
        time.sleep(0.2)
    return False


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of each process in the group, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == pgid:
                found.append((int(stat.parent.name), fields[0]))
    return found


def shuffled_deck(rand: random.Random) -> list[tuple[str, str]]:
    first, second = rand.sample(SIGNALS, 2)
    pairs = zip(rand.sample(PARTS, len(PARTS)), rand.sample(PARTS, len(PARTS)), strict=True)
    deck = [card for a, b in pairs for card in ((a, first), (b, second))]
    deck.insert(len(deck) - 2, ("node", ALONE))  # dealt from the end: third, so short runs have it
    return deck


def chaos(cast: Cast, until: float, stop: threading.Event, seed: int, gaps=(4.0, 15.0)) -> None:
    """Until `until` (or `stop`): wait a random moment, break one part, start it again.

    What to break is dealt from a deck of every (part, signal) pair, shuffled by the seed with the
    signals alternating (the first two dealt use both), each part stopped each way, and third the
    node's supervisor killed alone."""
    rand, deck = random.Random(seed), []
    while not stop.wait(rand.uniform(*gaps)) and time.time() < until:
        for part in cast.dead():  # restarted so the run goes on; counted against the service
            cast.service.procs.pop(part)
            cast.counts[f"{part} died by itself"] += 1
            cast.start(part)
        deck = deck or shuffled_deck(rand)
        cast.break_one(*deck.pop(), down_for=rand.uniform(0.0, 3.0))
