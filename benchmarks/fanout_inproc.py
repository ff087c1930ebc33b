"""One story fanned out in-process (`fanout.create_deliveries`, no Celery) to N subscribers on a
Redis of its own: Redis CPU, commands and memory per alert, the Python heap peak, the first step.

    .venv/bin/python -m benchmarks.fanout_inproc 200000
"""

from __future__ import annotations

import sys
import time
import tracemalloc

from benchmarks import fanout as bench
from benchmarks.stack import own_redis
from notifier.alerts import fanout
from notifier.core.db import connect
from notifier.models import Story
from notifier.settings import get_settings
from notifier.stories import claim


def main(count: int) -> None:
    with own_redis() as url:
        r = connect(url)
        bench.add_audience(r, count)
        story = Story("quake-1", "bench", "Earthquake of magnitude 7.1 off Japan, tsunami warning issued",
                      "https://news.example.com/q1", None, "Residents moved.", "quake-1")  # fmt: skip
        ids = claim.claim_stories(
            r, "bench", [story], story_ttl=86400, title_ttl=3600, pending_at=time.time()
        )
        r.config_resetstat()
        cpu, mem, first = r.info("cpu"), r.info("memory")["used_memory"], []
        started, python = time.perf_counter(), time.process_time()
        tracemalloc.start()
        fanout.create_deliveries(
            r, ids, get_settings(), on_created=lambda _: first or first.append(time.perf_counter())
        )
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        wall, python = time.perf_counter() - started, time.process_time() - python
        after, rows = r.info("cpu"), r.llen(f"story:{ids[0]}:deliveries")
        used = sum(after[k] - cpu[k] for k in ("used_cpu_sys", "used_cpu_user"))
        stats = {k[8:]: v for k, v in r.info("commandstats").items() if k[8:] not in ("info", "config")}
        print(
            f"rows={rows} wall={wall:.2f}s python={python / rows * 1e6:.1f}us/alert "
            f"redis_cpu={used:.2f}s ({used / rows * 1e6:.1f}us/alert) "
            f"commands={sum(v['calls'] for v in stats.values()) / rows:.2f}/alert "
            f"memory={(r.info('memory')['used_memory'] - mem) / rows:.0f}B/row heap_peak={peak / 1e6:.0f}MB "
            f"first_step={first[0] - started:.2f}s"
        )
        top = sorted(stats.items(), key=lambda kv: -kv[1]["usec"])[:8]
        print("  ".join(f"{k} {v['usec'] / rows:.2f}us" for k, v in top))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
