"""What the CLI shows: rich tables for people, JSON for scripts. Nothing here changes state
except the two small actions the CLI names (`poll_now`, `retry_delivery`)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from notifier import dedup, ledger, store
from notifier.redact import redact

console = Console(highlight=False)


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if ts else "-"


def emit_json(rows) -> None:
    print(json.dumps(rows, ensure_ascii=False, indent=2))


def table(title: str, columns: list[str], rows: list[list]) -> None:
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*[("-" if v is None else str(v)) for v in row])
    console.print(out)


def feed_json(feed) -> dict:
    keep = (
        "id",
        "url",
        "name",
        "enabled",
        "interval",
        "forced",
        "adaptive_interval",
        "errors",
        "last_error_kind",
        "interval_reason",
    )
    data = {k: getattr(feed, k) for k in keep}
    data.update(
        last_success=when(feed.last_success) if feed.last_success else None,
        last_error=feed.last_error,
        next_poll=when(feed.next_poll) if feed.next_poll else None,
    )
    return data


def feeds(rows, as_json: bool) -> None:
    if as_json:
        return emit_json([feed_json(f) for f in rows])
    table(
        "feeds",
        ["id", "name", "enabled", "interval", "last success", "last error", "next poll", "why"],
        [
            [
                f.id,
                f.name,
                f.enabled,
                f.interval,
                when(f.last_success),
                f"{f.last_error_kind}: {f.last_error}" if f.last_error else None,
                when(f.next_poll),
                f.interval_reason,
            ]
            for f in rows
        ],
    )


def topics(rows, as_json: bool) -> None:
    if as_json:
        return emit_json([{"name": t.name, "match": t.expr, "urgent": t.urgent} for t in rows])
    table("topics", ["name", "match", "urgent"], [[t.name, t.expr, t.urgent] for t in rows])


def subscriber_json(s) -> dict:
    return {
        "name": s.name,
        "notify": [redact(u) for u in s.active_urls()],
        "disabled": [redact(u) for u in s.urls if u not in s.active_urls()],
        "topics": list(s.topics),
        "quiet": s.quiet,
        "tz": s.tz,
        "digest": s.digest,
        "urgent_passes": s.urgent_passes,
    }


def subscribers(rows, as_json: bool) -> None:
    data = [subscriber_json(s) for s in rows]
    if as_json:
        return emit_json(data)
    table(
        "subscribers",
        ["name", "notify", "topics", "quiet", "digest", "disabled"],
        [
            [
                d["name"],
                " ".join(d["notify"]),
                " ".join(d["topics"]),
                f"{d['quiet']} {d['tz']}" if d["quiet"] else None,
                d["digest"],
                " ".join(d["disabled"]) or None,
            ]
            for d in data
        ],
    )


def deliveries(rows, as_json: bool) -> None:
    if as_json:
        return emit_json([d.as_json() for d in rows])
    table(
        "deliveries",
        ["id", "story", "subscriber", "target", "state", "attempts", "last error"],
        [[d.id, d.story, d.subscriber, d.target, d.state, d.attempts, d.last_error] for d in rows],
    )


def status(r, as_json: bool) -> None:
    data = {
        "feeds": [feed_json(f) for f in store.list_feeds(r)],
        "queues": {q: r.llen(q) for q in ("tick", "poll", "deliver")},
        "deliveries": {k: int(v) for k, v in r.hgetall("deliveries:count").items()},
        "deliveries_waiting": r.zcard("deliveries:due"),
        "stories_waiting": r.zcard("stories:pending"),
        "failing_urls": {k: int(v) for k, v in r.hgetall("failing:urls").items()},
    }
    if as_json:
        return emit_json(data)
    feeds(store.list_feeds(r), False)
    console.print(
        f"queues: {data['queues']}  deliveries: {data['deliveries']}  "
        f"waiting: {data['deliveries_waiting']} deliveries, {data['stories_waiting']} stories"
    )
    for target, count in data["failing_urls"].items():
        console.print(f"[red]failing[/red] {target}: {count} failed deliveries")


def story(r, story_id: str, as_json: bool) -> bool:
    record = dedup.load_story(r, story_id)
    if record is None:
        return False
    data = {
        **record,
        "sources": sorted(r.smembers(f"story:{story_id}:sources")),
        "matched": r.hgetall(f"story:{story_id}:matches"),
        "deliveries": [d.as_json() for d in ledger.of_story(r, story_id)],
    }
    if as_json:
        emit_json(data)
        return True
    console.print(
        f"[bold]{data['title']}[/bold]\n{data['link'] or '-'}\npublished {data['published'] or '-'}"
    )
    console.print(f"sources: {', '.join(data['sources'])}")
    for topic, terms in data["matched"].items():
        console.print(f"matched {topic}: {terms}")
    deliveries(ledger.of_story(r, story_id), False)
    return True


def retry_delivery(r, delivery_id: str) -> bool:
    record = ledger.get(r, delivery_id)
    if record is None:
        return False
    ledger.finish(r, delivery_id, "retrying", error=record.last_error, next_at=time.time())
    r.hset(f"delivery:{delivery_id}", "created", time.time())  # a manual retry restarts the age clock
    return True


def poll_now(r, url_or_id: str, settings, usage_error) -> None:
    """A stored feed: poll it through the pipeline. Any other URL: fetch, parse and print all."""
    from notifier import pipeline
    from notifier.fetch import FetchError, FetchLimits, fetch
    from notifier.netguard import GuardError, check_url
    from notifier.parse import parse_feed

    try:
        feed = store.find_feed(r, url_or_id)
    except store.NotFound:
        feed = None
    if feed:
        new = pipeline.poll_feeds(r, [feed.id], settings)
        r.zadd("stories:pending", {sid: time.time() for sid in new})  # fan out on the next tick
        for sid in new:
            print(json.dumps(dedup.load_story(r, sid), ensure_ascii=False))
        return
    try:
        check_url(url_or_id, settings.allow_private_hosts)
        result = fetch(url_or_id, limits=FetchLimits.from_settings(settings))
    except (GuardError, FetchError, ValueError) as exc:
        raise usage_error(str(exc)) from None
    for item in parse_feed(
        result.body or b"", feed_id="adhoc", url=result.final_url, content_type=result.content_type
    ).stories:
        print(json.dumps(item.as_json(), ensure_ascii=False))
