"""Apprise's parse of a notification URL, once per URL per process.

Parsing is the costliest step of a webhook alert after the send itself (LIMITS.md, the delivery
benchmark); every reader here (rendering, pacing, the fast path) only reads the parsed settings.
"""

from __future__ import annotations

from functools import lru_cache

import apprise


@lru_cache(maxsize=2048)
def plugin_for(url: str):
    """The Apprise plugin for `url`, or None when Apprise cannot use it. Read it; never send with it."""
    return apprise.Apprise.instantiate(url, suppress_exceptions=True)
