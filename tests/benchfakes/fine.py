"""A benchmark that really measures something small: sha256 beside md5 on the same bytes."""

from __future__ import annotations

import hashlib
import time

from benchmarks.records import Record, Target


def rate(digest, data: bytes, count: int = 200) -> float:
    started = time.perf_counter()
    for _ in range(count):
        digest(data).digest()
    return count / (time.perf_counter() - started)


def run(quick: bool = False) -> list[Record]:
    data = bytes(range(256)) * 256
    ours = [rate(hashlib.sha256, data) for _ in range(3)]
    limit = [rate(hashlib.md5, data) for _ in range(3)]
    return [
        Record("fine", "sha256 of 64 KB", "/s", ours, sorted(limit)[1], limit, Target(">=", 0.01, "ratio"))
    ]
