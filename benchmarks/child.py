"""A server of the benchmarks' own (feeds, sinks) in a process of its own, so it has its own core and
GIL and is never what a benchmark measures. A subclass names its command; the process prints "ready"
on its first line once it listens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ChildServer:
    what = "the server"  # in the error when it does not start
    process: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        """The module and its arguments, after `python -m`."""
        raise NotImplementedError

    def __enter__(self):
        command = [sys.executable, "-m", *self.argv()]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
        if self.process.stdout.readline().strip() != b"ready":
            self.__exit__()
            raise RuntimeError(f"{self.what} did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    @property
    def pid(self) -> int:
        return self.process.pid
