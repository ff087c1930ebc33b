"""How often to poll a feed: one formula over what it publishes and what its server asks.

- Adaptive: half the mean gap between the stories seen over the last week, so a feed that
  publishes every minute is polled at the minimum and one silent for a week drifts to the maximum.
- Polite: never sooner than the server's Cache-Control max-age / Expires, or a Retry-After.
- Forced: an interval the operator set for a feed is used as it is (still never below a Retry-After).
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

WEEK = 7 * 24 * 3600
CACHE_CAP = 24 * 3600  # a max-age of a year would mean never polling again: a day is our limit
MAX_BACKOFF = 6 * 3600


def jittered(seconds: float) -> float:
    """Spread polls by ±5 % so feeds added together don't stay in lockstep."""
    return seconds * random.uniform(0.95, 1.05)


POLITE_SHARE = 0.95  # of the interval: the closest two polls of one feed may come


def next_due(previous_due: float | None, interval: float, now: float) -> float:
    """When to poll next: `interval` after the previous due time when this poll was on time, so a
    feed is polled every interval and not every interval plus the wait for a tick and a fetch.
    A late poll (overload) counts from now: a backlog never turns into a burst of catch-up polls.
    Either way the next poll is at least POLITE_SHARE of the interval after this one: a poll that
    ran late is not followed by one a moment later (the publisher sees the interval it was promised)."""
    if previous_due is not None and now - interval < previous_due <= now:
        return max(previous_due + jittered(interval), now + POLITE_SHARE * interval)
    return now + jittered(interval)


def adaptive(
    publish_times: list[float],
    now: float,
    low: float,
    high: float,
    watched_since: float | None = None,
    default: float | None = None,
) -> tuple[float, str]:
    """Half the mean gap between stories of the last week, bounded by [low, high].

    Too few stories mean a quiet feed only once we have watched it for a week; before that we
    know too little and keep the default.
    """
    recent = sorted(t for t in publish_times if now - WEEK <= t <= now)
    span = now - min([*recent[:1], watched_since or now])
    young = watched_since is not None and now - watched_since < WEEK
    if len(recent) < 2 or span < 3600:  # an hour or two stories tell too little
        if default is not None and (young or recent):
            return min(max(default, low), high), "default until publishing is observed"
        return high, "adaptive: quiet for a week"
    gap = span / len(recent)
    per_day = 86400 / gap
    return min(max(gap / 2, low), high), f"adaptive: ~{per_day:.0f} stories/day"


def max_age(cache_control: str | None, expires: str | None, now: float) -> float | None:
    """Seconds the server asks us to wait, from Cache-Control max-age (preferred) or Expires."""
    for directive in (cache_control or "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("max-age", "s-maxage") and value.strip().strip('"').isdigit():
            return min(float(value.strip().strip('"')), CACHE_CAP)
    if expires:
        try:
            return max(0.0, min(parsedate_to_datetime(expires).timestamp() - now, CACHE_CAP))
        except (TypeError, ValueError):
            return None
    return None


def backoff(interval: float, errors: int, retry_after: float | None) -> tuple[float, str]:
    """Exponential in the consecutive errors, capped; never sooner than a Retry-After."""
    delay = min(interval * 2 ** min(errors - 1, 16), max(MAX_BACKOFF, interval))
    if retry_after:
        capped = min(retry_after, CACHE_CAP)
        if capped > delay:
            return capped, f"server asked to retry after {capped:.0f} s"
    return delay, f"backoff after {errors} error{'s' if errors > 1 else ''}"


def after_success(
    *,
    forced: bool,
    interval: float,
    adaptive_interval: float | None,
    adaptive_reason: str,
    server_wait: float | None,
    low: float,
) -> tuple[float, str]:
    """The next interval after a good poll, and why."""
    if forced:
        base, reason = max(interval, low), "forced by operator"
    elif adaptive_interval is not None:
        base, reason = adaptive_interval, adaptive_reason
    else:
        base, reason = max(interval, low), "default until publishing is observed"
    if server_wait and server_wait > base and not forced:
        return server_wait, f"server asks max-age {server_wait:.0f} s"
    return base, reason
