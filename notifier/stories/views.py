"""Feeds, stories and subscribers as the outside world sees them: the JSON the CLI prints with
`--json` and the HTTP API answers with, so both show the same shapes (CONTRACT.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.core.redact import redact


def iso_of_timestamp(ts: float | None) -> str | None:
    return (
        datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if ts else None
    )


def utc_iso(text: str | None) -> str | None:
    """A stored ISO date as ISO 8601 in UTC (`...Z`); what cannot be read stays as it was."""
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return text
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


FEED_KEYS = ("id", "url", "name", "enabled", "interval", "forced", "adaptive_interval", "errors")


def feed_json(feed) -> dict:
    data = {k: getattr(feed, k) for k in FEED_KEYS}
    data.update(
        last_success=iso_of_timestamp(feed.last_success),
        last_error=feed.last_error,
        last_error_kind=feed.last_error_kind,
        next_poll=iso_of_timestamp(feed.next_poll),
        interval_reason=feed.interval_reason,
    )
    return data


def topic_json(topic) -> dict:
    data = {"name": topic.name, "match": topic.expr, "urgent": topic.urgent, "min_sources": topic.min_sources}
    return data | {"urgent_sources": topic.urgent_sources}


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
        "updates": s.updates,
    }


EXPLAINED = ("outlets", "urgent", "held_back", "why_silent", "updates")  # alerts/explain.py, when read


def story_json(record: dict) -> dict:
    """A stored story as the contract shows it; a story never placed in a cluster is its own."""
    return {
        "id": record["id"],
        "feed_id": record.get("feed_id", record.get("feed")),
        "title": record.get("title"),
        "link": record.get("link"),
        "published": utc_iso(record.get("published")),
        "summary": record.get("summary") or "",
        "guid": record.get("guid"),
        "cluster": record.get("cluster") or record["id"],
        "cluster_size": record.get("cluster_size") or 1,
    } | {key: record[key] for key in EXPLAINED if key in record}
