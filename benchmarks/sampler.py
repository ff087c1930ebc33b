"""CPU and memory of every process a service needs, read with psutil: between readings a benchmark
takes itself (a round), or every few seconds in a thread while the service runs.

    meter = Sampler({"worker-poll": pid, "redis": redis_pid}).start()   # a first reading
    meter.used()                # part -> CPU seconds since the first reading (reads again)
    with Sampler(roots, every=2.0) as sampler:   # and a reading every 2 s meanwhile
        ...
    sampler.cores(start, end)   # cores busy between two moments (time.monotonic())
    sampler.by_role()           # role -> CPU seconds between the first reading and the last
    sampler.peak_rss()          # role -> the largest resident set seen, bytes

Each root is taken with all its descendants, found again at every reading, so prefork children
and anything started later are counted. A process counts its own CPU and what the children it
reaped used: a child that ends between two readings is counted in its parent, not lost. A
process is named by its role: a Celery worker by its `--name` (worker-poll), a child of a
process with the same command line as "... child".
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import NamedTuple

import psutil


class Seen(NamedTuple):
    root: str  # the name of the root it descends from
    role: str
    parent: int
    cpu: float  # CPU seconds when last read: its own and its reaped children's


class Sampler:
    def __init__(self, roots: dict[str, int], every: float = 2.0) -> None:
        self.roots, self.every = roots, every
        self.seen: dict[int, Seen] = {}  # pid -> as last read (kept after it exits, unless reaped)
        self.first: dict[tuple[str, str], float] = {}  # (root, role) -> CPU seconds at the first reading
        self.rss: dict[str, int] = {}  # role -> peak resident set, bytes
        self.timeline: list[tuple[float, float]] = []  # (monotonic time, CPU seconds so far)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Sampler:
        self.sample()
        return self

    def __enter__(self) -> Sampler:
        self.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            live = {}
            for root_name, pid in self.roots.items():
                live |= self._read(root_name, pid)
            for pid in self.seen.keys() - live.keys():
                if self.seen[pid].parent in live:
                    del self.seen[pid]  # reaped by one of ours: its CPU is in its parent's now
            self.seen |= live
            totals = self._totals()
            self.first = self.first or totals
            self.timeline.append((time.monotonic(), sum(totals.values())))

    def _read(self, root_name: str, root: int) -> dict[int, Seen]:
        found = {}
        for proc in tree(root):
            try:
                with proc.oneshot():
                    t, rss, parent = proc.cpu_times(), proc.memory_info().rss, proc.ppid()
                    role = self.seen[proc.pid].role if proc.pid in self.seen else _role(root_name, proc)
            except psutil.Error:
                continue  # gone meanwhile: counted as last read, or in its parent once reaped
            self.rss[role] = max(self.rss.get(role, 0), rss)
            cpu = t.user + t.system + t.children_user + t.children_system
            found[proc.pid] = Seen(root_name, role, parent, cpu)
        return found

    def _totals(self) -> dict[tuple[str, str], float]:
        found: dict[tuple[str, str], float] = {}
        for seen in self.seen.values():
            found[seen.root, seen.role] = found.get((seen.root, seen.role), 0.0) + seen.cpu
        return found

    def _since_first(self, key: int) -> dict[str, float]:
        """CPU seconds between the first reading and the last, per root (key 0) or role (key 1)."""
        with self._lock:
            now, first = self._totals(), self.first
        found: dict[str, float] = {}
        for pair in now.keys() | first.keys():
            found[pair[key]] = found.get(pair[key], 0.0) + now.get(pair, 0.0) - first.get(pair, 0.0)
        return found

    def used(self) -> dict[str, float]:
        """CPU seconds per root (a part of the service) since the first reading, read now."""
        self.sample()
        return self._since_first(0)

    def by_role(self) -> dict[str, float]:
        """CPU seconds per role between the first reading and the last."""
        return self._since_first(1)

    def cores(self, start: float, end: float) -> float:
        """Cores busy on average between two moments, from the readings nearest to them."""
        (t0, c0), (t1, c1) = self._at(start), self._at(end)
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0

    def _at(self, moment: float) -> tuple[float, float]:
        i = bisect.bisect_left([t for t, _ in self.timeline], moment)
        return self.timeline[min(i, len(self.timeline) - 1)]

    def peak_rss(self) -> dict[str, int]:
        return dict(self.rss)


def _role(root_name: str, proc: psutil.Process) -> str:
    argv = proc.cmdline()
    parent = proc.parent()
    if parent is not None and parent.cmdline() == argv and "worker" in argv:
        return f"{_name(root_name, argv)} child"
    return _name(root_name, argv)


def _name(root_name: str, argv: list[str]) -> str:
    if "worker" in argv and "--name" in argv:
        return f"worker-{argv[argv.index('--name') + 1]}"
    for part in ("beat", "api", "run"):
        if part in argv[-1:]:
            return part
    return root_name


def tree(pid: int) -> list[psutil.Process]:
    """`pid` and every live descendant; none if it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
