"""CPU and memory of every process a service needs, sampled with psutil while it runs.

    with Sampler({"service": run_pid, "redis": redis_pid}, every=2.0) as sampler:
        ...
    sampler.cores(start, end)   # cores used between two moments (time.monotonic())
    sampler.peak_rss()          # role -> the largest resident set seen, bytes

Each root is taken with all its descendants, found again at every sample, so prefork children
and anything started later are counted. A process is named by its role: a Celery worker by its
`--name` (worker-poll), a child of a process with the same command line as "... child".
"""

from __future__ import annotations

import bisect
import threading
import time

import psutil


class Sampler:
    def __init__(self, roots: dict[str, int], every: float = 2.0) -> None:
        self.roots, self.every = roots, every
        self.cpu: dict[int, float] = {}  # pid -> its CPU seconds when last seen (kept after it exits)
        self.start_cpu: dict[int, float] = {}  # pid -> its CPU seconds when first seen
        self.roles: dict[int, str] = {}
        self.rss: dict[str, int] = {}  # role -> peak resident set, bytes
        self.timeline: list[tuple[float, float]] = []  # (monotonic time, CPU seconds so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self.sample()
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
        for root_name, pid in self.roots.items():
            for proc in tree(pid):
                try:
                    with proc.oneshot():
                        times, rss = proc.cpu_times(), proc.memory_info().rss
                        role = self.roles.get(proc.pid) or self._role(root_name, proc)
                except psutil.Error:
                    continue  # gone meanwhile: its last sample stays counted
                self.roles[proc.pid] = role
                # user + system of the process itself: its reaped children were seen on their own
                self.cpu[proc.pid] = times.user + times.system
                self.start_cpu.setdefault(proc.pid, self.cpu[proc.pid])
                self.rss[role] = max(self.rss.get(role, 0), rss)
        self.timeline.append((time.monotonic(), self.used()))

    def used(self, roles: set[str] | None = None) -> float:
        """CPU seconds used since the sampler started, by every process seen (or those roles)."""
        pids = [p for p in list(self.cpu) if roles is None or self.roles[p] in roles]
        return sum(self.cpu[p] - self.start_cpu[p] for p in pids)

    def by_role(self) -> dict[str, float]:
        """CPU seconds since the start, per role."""
        found: dict[str, float] = {}
        for pid, role in list(self.roles.items()):
            found[role] = found.get(role, 0.0) + self.cpu[pid] - self.start_cpu[pid]
        return found

    def cores(self, start: float, end: float) -> float:
        """Cores busy on average between two moments, from the samples nearest to them."""
        (t0, c0), (t1, c1) = self._at(start), self._at(end)
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0

    def _at(self, moment: float) -> tuple[float, float]:
        i = bisect.bisect_left([t for t, _ in self.timeline], moment)
        return self.timeline[min(i, len(self.timeline) - 1)]

    def peak_rss(self) -> dict[str, int]:
        return dict(self.rss)

    @staticmethod
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
