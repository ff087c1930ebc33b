"""Reading a Retry-After value, the one rule for feeds and notification services alike."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 24 * 3600.0  # a server asking for more is wrong or hostile; ask again tomorrow
_SECONDS = re.compile(r"\d+(\.\d+)?")  # RFC 9110 says whole seconds; Discord's JSON sends 1.5


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait, from delta-seconds or an HTTP-date, at most a day; None when absent or
    unreadable (a negative number, NaN, words). A date in the past means now."""
    value = (value or "").strip()
    if _SECONDS.fullmatch(value):
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        # HTTP-dates are always GMT; a zone-less one ("-0000") means the same
        seconds = (when.replace(tzinfo=when.tzinfo or UTC) - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
