"""When a subscriber wants to hear: quiet hours in their own time zone, and digests.

`release_time` answers one question for a new alert: send now (None), or hold it until when.
Held alerts for one notification URL are sent together, as one digest message, at that time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DIGESTS = ("hourly", "daily")


class QuietError(ValueError):
    """A quiet-hours window, time zone or digest setting we cannot read."""


def parse_clock(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise QuietError(f"not a time of day (HH:MM): {text!r}") from None


def parse_window(text: str) -> tuple[time, time]:
    """'22:00-07:00' -> (22:00, 07:00); the window may run past midnight."""
    start, sep, end = text.partition("-")
    if not sep:
        raise QuietError(f"quiet hours must look like 22:00-07:00, not {text!r}")
    window = parse_clock(start), parse_clock(end)
    if window[0] == window[1]:
        raise QuietError("quiet hours start and end at the same time")
    return window


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QuietError(f"unknown time zone {name!r} (use a name like Europe/Paris)") from None


def in_window(local: datetime, window: tuple[time, time]) -> bool:
    start, end, now = window[0], window[1], local.time()
    return start <= now < end if start < end else now >= start or now < end


def window_end(local: datetime, window: tuple[time, time]) -> datetime:
    """The next moment the window ends, at or after `local`."""
    end = datetime.combine(local.date(), window[1], tzinfo=local.tzinfo)
    return end if end > local else end + timedelta(days=1)


def next_digest(local: datetime, digest: str, at: time) -> datetime:
    if digest == "hourly":
        return local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    moment = datetime.combine(local.date(), at, tzinfo=local.tzinfo)
    return moment if moment > local else moment + timedelta(days=1)


def release_time(
    now: float,
    *,
    quiet: str | None,
    tz: str,
    digest: str | None,
    digest_at: str = "08:00",
    urgent: bool = False,
    urgent_passes: bool = False,
) -> float | None:
    """None: send at once. Otherwise the epoch time to send it (with whatever else is held)."""
    if urgent and urgent_passes:
        return None
    local = datetime.fromtimestamp(now, zone(tz))
    release = next_digest(local, digest, parse_clock(digest_at)) if digest else None
    if quiet:
        window = parse_window(quiet)
        probe = release or local
        if in_window(probe, window):
            release = window_end(probe, window)
    return release.timestamp() if release else None


def validate(quiet: str | None, tz: str, digest: str | None, digest_at: str) -> None:
    """Raise QuietError with a one-line message for any setting we could not honour."""
    zone(tz)
    parse_clock(digest_at)
    if quiet:
        parse_window(quiet)
    if digest and digest not in DIGESTS:
        raise QuietError(f"digest must be one of {', '.join(DIGESTS)}, not {digest!r}")
