"""BENCH_PROFILE=DIR: py-spy records the named processes while a phase runs (py-spy is not a
project dependency: `.venv/bin/pip install py-spy`).

`--gil` samples only the thread holding the GIL: where the Python CPU goes; work in C with the GIL
released (OpenSSL loading the CA store) is not seen. `--nonblocking` never pauses the process:
pausing it 100 times a second halved what was measured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path


@contextmanager
def profiled(name: str, pids: list[int], parts: list[tuple[str, tuple[str, ...]]] = ()):
    """Yields a dict that is filled, after the block, with the % of samples per part of `parts`
    (the first part one of whose markers appears in a stack names it); empty without BENCH_PROFILE."""
    out, spy = os.environ.get("BENCH_PROFILE"), shutil.which("py-spy", path=Path(sys.executable).parent)
    shares: dict[str, float] = {}
    if not (out and spy):
        yield shares
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    paths = [f"{out}/{name}-{pid}.txt" for pid in pids]
    with ExitStack() as stack:
        for pid, path in zip(pids, paths, strict=True):
            command = [spy, "record", "-p", str(pid), "--subprocesses", "--gil", "--nonblocking", "-r", "100"]
            recorder = subprocess.Popen(
                [*command, "-f", "raw", "-o", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            stack.callback(recorder.wait, timeout=30)
            stack.callback(recorder.send_signal, 2)  # SIGINT: py-spy writes what it has and stops
        yield shares
    if parts:
        shares.update(cpu_shares(paths, parts))


def cpu_shares(paths: list[str], parts) -> dict[str, float]:
    """py-spy raw output (`frame;frame;... count` lines) -> % of samples per part."""
    counts: dict[str, int] = {}
    for path in filter(os.path.exists, paths):
        for line in Path(path).read_text().splitlines():
            stack, _, samples = line.rpartition(" ")
            part = next((name for name, marks in parts if any(m in stack for m in marks)), "other")
            counts[part] = counts.get(part, 0) + int(samples)
    total = sum(counts.values()) or 1
    return {part: round(100 * n / total, 1) for part, n in sorted(counts.items(), key=lambda kv: -kv[1])}
