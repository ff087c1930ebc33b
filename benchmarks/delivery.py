"""Delivery: alerts a second sent by the whole service, beside limits measured in the same run
into the same sinks (a process of their own that counts what it accepts: benchmarks/delivery_sinks.py).

Limits (benchmarks/delivery_limits.py), every try kept. The service's shape: the deliver worker of
`notifier run` is prefork x2, and each process sends webhooks on its own event loop at c=50 and
e-mail over one connection per mail server (one SMTP lane thread per server), so the webhook limit
is raw aiohttp in two processes at c=50 and the e-mail limit smtplib over two reused connections
at once, like with like.

Service (benchmarks/delivery_service.py): every part of `notifier run`; K webhook subscribers, or
K/4 e-mail ones, each with its own URL; one story claimed, the tick fans it out. Each kind runs
`repeats` times with the limiter out of the way (`?rate=100000/s`), new subscribers each time, and
once at the default limits (webhook host 50/s burst 100, SMTP host 10/s burst 20). Every run checks
that the ledger's sent count, the subscribers and what the sink received are the same number.
CPU per alert counts every process of the service and Redis. Parts in this process, and an
in-process fan-out: benchmarks/delivery_parts.py.

BENCH_SUBSCRIBERS sets K (default 10000), BENCH_FANOUT the in-process fan-out (default 100000);
BENCH_PROFILE=DIR records py-spy profiles of the deliver worker per run (benchmarks/profile.py).
"""

from __future__ import annotations

import os
import statistics

from benchmarks.delivery_limits import Size, limits
from benchmarks.delivery_parts import fan_out_alone, parts_alone
from benchmarks.delivery_service import service_runs
from benchmarks.delivery_sinks import Sinks
from benchmarks.procs import breakdown
from benchmarks.records import Record, Target
from benchmarks.stack import own_redis
from notifier.alerts import pacing
from workers.supervisor import child_commands

K = int(os.environ.get("BENCH_SUBSCRIBERS", "10000"))
FULL = Size(subscribers=K, emails=K // 4, paced=(400, 100), repeats=3, tries=3, slice=1.0,
            fanout=int(os.environ.get("BENCH_FANOUT", "100000")))  # fmt: skip
QUICK = Size(subscribers=300, emails=60, paced=(120, 24), repeats=1, tries=1, slice=0.3, fanout=2000)
DELIVER = child_commands()["worker-deliver"]
PROCESSES = int(DELIVER[DELIVER.index("--concurrency") + 1]) if "prefork" in DELIVER else 1


def run(quick: bool = False) -> list[Record]:
    size = QUICK if quick else FULL
    with own_redis() as url, Sinks() as sinks:
        measured = limits(sinks, size, PROCESSES)
        parts = parts_alone(sinks, url, size)
        served = service_runs(sinks, url, size)
        fanned = fan_out_alone(sinks, url, size)
    return records(measured | parts, served, fanned, size)


def records(limit: dict[str, list[float]], served: dict[str, dict], fanned: dict, size: Size) -> list[Record]:
    def rec(figure, unit, runs, of=None, target=None, note=""):
        named = isinstance(of, str)  # a limit measured in this run, or a configured one
        value, runs_of_limit = (statistics.median(limit[of]), limit[of]) if named else (of, [])
        return Record("delivery", figure, unit, runs, value, runs_of_limit, target, note)

    def each(kind: str, key: str) -> list[float]:
        return [run[key] for name, run in served.items() if name.startswith(f"{kind}_unlimited")]

    def steady(kind: str) -> list[float]:
        return [served[f"{kind}_paced"]["steady_alerts_per_s"]]

    def where(kind: str) -> str:
        runs = [run for name, run in served.items() if name.startswith(f"{kind}_unlimited")]
        counts = "; ".join(f"{r['sent']} sent, {r['received']} received" for r in runs)
        middle = sorted(runs, key=lambda r: r["cpu_ms_per_alert"])[len(runs) // 2]
        return f"ledger and sink per run: {counts}. Cores in the median run: {breakdown(middle['cores'])}"

    half = Target(">=", 0.5, "ratio")
    paced = Target("<=", 1.05, "ratio")  # paced as configured: never above the limit
    hooks = f"limit: aiohttp POSTs, c=50 keep-alive in {PROCESSES} processes"
    mails = f"limit: smtplib, {PROCESSES} connections reused at once, as many as the service opens"
    configured = "limit: the configured rate per host"
    fan = f"match + ledger {fanned['fan_out_s']:.1f} s, enqueue {fanned['enqueue_s']:.1f} s; one run"
    return [
        rec("webhook alerts/s, first send to last", "/s", each("webhook", "steady_alerts_per_s"),
            "aiohttp_as_service", half, f"{hooks}. {where('webhook')}"),
        rec("webhook alerts/s, claim to last", "/s", each("webhook", "alerts_per_s"), "aiohttp_as_service"),
        rec("webhook CPU ms per alert, every process", "ms", each("webhook", "cpu_ms_per_alert")),
        rec("e-mail alerts/s, first send to last", "/s", each("email", "steady_alerts_per_s"),
            "smtplib_as_service", half, f"{mails}. {where('email')}"),
        rec("e-mail alerts/s, claim to last", "/s", each("email", "alerts_per_s"), "smtplib_as_service"),
        rec("e-mail CPU ms per alert, every process", "ms", each("email", "cpu_ms_per_alert")),
        rec("webhook alerts/s at the default limit, steady", "/s", steady("webhook"),
            pacing.WEBHOOK_HOST.per_second, paced, configured),
        rec("e-mail alerts/s at the default limit, steady", "/s", steady("email"),
            pacing.SMTP_HOST.per_second, paced, configured),
        rec("httpx POSTs/s, c=50 (not in the send path)", "/s", limit["httpx"], "aiohttp"),
        rec("Apprise json://, new object each, /s", "/s", limit["apprise_json"], "aiohttp"),
        rec("smtplib, new connection each, /s", "/s", limit["smtplib_new_connection"], "smtplib_reused"),
        rec("Apprise mailto://, new object each, /s", "/s", limit["apprise_mailto"], "smtplib_reused"),
        rec("part: render + send via Apprise json://, /s", "/s", limit["send_json"], "apprise_json"),
        rec("part: dispatch.send_deliveries json://, /s", "/s", limit["dispatch_json"], "apprise_json"),
        rec("part: Redis round trips per alert", "", limit["redis_round_trips"]),
        rec(f"fan-out {size.fanout:,} in-process (no tick, no worker), s", "s", [fanned["total_s"]],
            target=Target("<=", 10), note=fan),
    ]  # fmt: skip
