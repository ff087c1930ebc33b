"""Rate limits shared by every worker: one token bucket per destination, kept in Redis.

Ten workers sending to one Telegram chat must together stay under what Telegram allows, so the
buckets live in Redis and one Lua script refills, checks and takes them atomically. The script
reads Redis's own clock (TIME), so workers whose clocks disagree still agree on every bucket.

Nobody sleeps here: `take` and `take_all` return 0.0 when the caller may send now, or the seconds
until it may, and the caller puts the delivery back in the due set for then. `block` records a
provider's Retry-After: nothing is granted for that key until it has passed.

Keys name a destination without its secrets (`rl:tgram:chat:<sha256[:16]>`); the hosts of
self-hosted services (ntfy, SMTP, webhooks) appear in clear, as they do in logs (redact.py).
A bucket nobody uses expires once it would be full again, which is the same as being full.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import redis

from notifier.alerts.channels.base import plugin_for
from notifier.core.redact import looks_like_host

__all__ = ["Rate", "block", "destination_keys", "parse_rate", "split_rate_override", "take", "take_all"]


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_second) and self.per_second > 0) or self.burst < 1:
            raise ValueError(f"a rate needs per_second > 0 and burst >= 1, not {self}")


# KEYS: the buckets. ARGV[1]: a clock for tests, or '' for the server's; then rate, burst per key.
# A bucket is a hash: tokens left, when they were counted (ts), and a Retry-After block (until).
TAKE_LUA = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local wait, levels = 0, {}
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local b = redis.call('HMGET', key, 'tokens', 'ts', 'until')
  local since = math.max(0, now - (tonumber(b[2]) or now))
  local level = math.min(burst, (tonumber(b[1]) or burst) + since * rate)
  levels[i] = level
  wait = math.max(wait, (tonumber(b[3]) or 0) - now)
  if level < 1 then wait = math.max(wait, (1 - level) / rate) end
end
if wait > 0 then
  -- rounded up, so a wait never comes back as '0' (which would mean 'granted')
  return string.format('%.6f', math.ceil(wait * 1000000) / 1000000)
end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 'tokens', string.format('%.9f', levels[i] - 1), 'ts', string.format('%.6f', now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return '0'
"""

# KEYS[1]: the bucket. ARGV: seconds to block, then a clock for tests or ''. Never shortens a block.
BLOCK_LUA = """
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local untilv = now + tonumber(ARGV[1])
if untilv > (tonumber(redis.call('HGET', KEYS[1], 'until')) or 0) then
  redis.call('HSET', KEYS[1], 'until', string.format('%.6f', untilv))
  local ttl = math.ceil(tonumber(ARGV[1]) * 1000) + 1000
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return 1
"""


def take(r: redis.Redis, key: str, rate: Rate, now: float | None = None) -> float:
    """0.0 if a token was taken; else the seconds until one will be there (or the block ends).

    `now` replaces the server clock, for tests and tools; never mix both clocks on one key."""
    return take_all(r, [(key, rate)], now=now)


def take_all(r: redis.Redis, keys_and_rates: list[tuple[str, Rate]], now: float | None = None) -> float:
    """Take one token from every bucket, or from none: 0.0, or the longest wait among them."""
    buckets = dict(keys_and_rates)  # the same key twice is one bucket, not two tokens
    args: list = ["" if now is None else repr(float(now))]
    for rate in buckets.values():
        args += [repr(float(rate.per_second)), rate.burst]
    return float(r.register_script(TAKE_LUA)(keys=list(buckets), args=args))


def block(r: redis.Redis, key: str, seconds: float, now: float | None = None) -> None:
    """Honour a provider's Retry-After: grant nothing for `key` for `seconds` from now."""
    if seconds > 0:
        clock = "" if now is None else repr(float(now))
        r.register_script(BLOCK_LUA)(keys=[key], args=[repr(float(seconds)), clock])


# Published limits, or a polite guess where a provider publishes none.
TELEGRAM_CHAT = Rate(1.0, 1)  # "avoid more than one message per second" in a chat
TELEGRAM_GROUP = Rate(20 / 60, 1)  # "no more than 20 messages per minute to the same group"
TELEGRAM_BOT = Rate(30.0, 30)  # "no more than 30 messages per second or so" per bot
SLACK_HOOK = Rate(1.0, 3)
DISCORD_HOOK = Rate(2.5, 5)  # 5 requests per 2 s per webhook
NTFY_HOST = Rate(10.0, 20)
NTFY_SH = Rate(0.2, 60)  # ntfy.sh: a burst of 60, then one every 5 s per visitor
SMTP_HOST = Rate(10.0, 20)
WEBHOOK_HOST = Rate(50.0, 100)
OTHER = Rate(5.0, 10)
WEBPUSH_SUBSCRIPTION = Rate(1.0, 5)

UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
}


def parse_rate(text: str) -> Rate:
    """`2/s`, `30/min`, `1/5s`, `100/h` -> Rate; the burst is the count, so 30/min may come at once."""
    count, _, period = text.lower().partition("/")
    period = period.strip()
    number = period[: len(period) - len(period.lstrip("0123456789."))]
    unit = period[len(number) :].strip()
    try:
        amount, seconds = float(count), float(number or 1) * UNITS[unit]
        return Rate(per_second=amount / seconds, burst=max(1, int(amount)))
    except (ValueError, KeyError, ZeroDivisionError, OverflowError):
        raise ValueError(f"not a rate: {text!r} (write it like 2/s, 30/min or 1/5s)") from None


@lru_cache(maxsize=4096)  # asked six times per alert (pacing, routing, rendering, sending)
def split_rate_override(url: str) -> tuple[str, Rate | None]:
    """Take our `rate=` query parameter out of an Apprise URL: (the URL for Apprise, the Rate)."""
    base, sep, query = url.partition("?")
    kept, rate = [], None
    for part in query.split("&") if sep else []:
        name, _, value = part.partition("=")
        if name.strip().lower() == "rate":
            rate = parse_rate(unquote(value))
        elif part:
            kept.append(part)
    return (f"{base}?{'&'.join(kept)}" if kept else base), rate


def destination_keys(url: str) -> list[tuple[str, Rate]]:
    """The buckets one send to `url` must take from, the most specific first.

    A `rate=` override in the URL replaces the rate of that first bucket."""
    clean, override = split_rate_override(url)
    keys = list(_keys(clean))
    if override is not None:
        keys[0] = (keys[0][0], override)
    return keys


@lru_cache(maxsize=4096)
def _keys(url: str) -> tuple[tuple[str, Rate], ...]:
    if urlsplit(url).scheme.lower() in ("webpush", "webpushs"):
        # push services limit each subscription, not their host: one bucket per browser
        return ((f"rl:webpush:sub:{_hash(url.partition('?')[0])}", WEBPUSH_SUBSCRIPTION),)
    plugin = plugin_for(url)
    if plugin is None:  # the send will fail anyway; still give it a bucket of its own
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower() or "unknown", parts.netloc.rpartition("@")[2]
        return ((f"rl:{scheme}:host:{_host(host)}", OTHER),)
    service = _service(plugin)
    if service == "tgram":
        return _telegram(plugin)
    if service in ("slack", "discord"):
        return ((f"rl:{service}:hook:{_hash(*_identity(plugin, url))}", _HOOKS[service]),)
    if service == "ntfys":
        host = "ntfy.sh" if getattr(plugin, "mode", "") == "cloud" else getattr(plugin, "host", "")
        return ((f"rl:ntfy:host:{_host(host)}", NTFY_SH if host == "ntfy.sh" else NTFY_HOST),)
    if service == "mailtos":
        host = getattr(plugin, "smtp_host", None) or getattr(plugin, "host", "")
        return ((f"rl:mailto:host:{_host(host)}", SMTP_HOST),)
    if service in ("jsons", "forms", "xmls"):
        return ((f"rl:webhook:host:{_host(getattr(plugin, 'host', ''))}", WEBHOOK_HOST),)
    return ((f"rl:{service}:host:{_host(getattr(plugin, 'host', '') or '')}", OTHER),)


_HOOKS = {"slack": SLACK_HOOK, "discord": DISCORD_HOOK}


def _telegram(plugin) -> tuple[tuple[str, Rate], ...]:
    bot = plugin.bot_token
    chats = [str(t[0] if isinstance(t, tuple) else t) for t in getattr(plugin, "targets", None) or []]
    # no chat given: Apprise sends to the bot's owner. Groups and channels (-id, @name) are slower.
    keys = [
        (f"rl:tgram:chat:{_hash(bot, chat)}", TELEGRAM_GROUP if chat[:1] in ("-", "@") else TELEGRAM_CHAT)
        for chat in chats or ["owner"]
    ]
    return (*keys, (f"rl:tgram:bot:{_hash(bot)}", TELEGRAM_BOT))


def _service(plugin) -> str:
    """Apprise's secure scheme names the service whatever URL form reached it (tgram, slack...)."""
    for proto in (getattr(plugin, "secure_protocol", None), getattr(plugin, "protocol", None)):
        name = proto[0] if isinstance(proto, tuple | list) and proto else proto
        if name:
            return str(name).lower()
    return "unknown"


def _identity(plugin, url: str) -> tuple:
    """What Apprise itself says makes this destination unique, targets excluded (tokens included)."""
    identity = getattr(plugin, "url_identifier", None)
    return tuple(identity) if identity else (url,)


def _host(host: str) -> str:
    host = (host or "").lower()
    return host if host and looks_like_host(host) else _hash(host)


def _hash(*parts) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:16]


def take_each(r: redis.Redis, keysets: list[list[tuple[str, Rate]]]) -> list[float]:
    """take_all for many sends in one round trip, in order (Redis runs the scripts one by one)."""
    script, pipe = r.register_script(TAKE_LUA), r.pipeline(transaction=False)
    for keys_and_rates in keysets:
        buckets = dict(keys_and_rates)
        args: list = [""]
        for rate in buckets.values():
            args += [repr(float(rate.per_second)), rate.burst]
        script(keys=list(buckets), args=args, client=pipe)
    return [float(value) for value in pipe.execute()] if keysets else []
