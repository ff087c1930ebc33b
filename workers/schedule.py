"""Beat's one entry: a tick every second. Feeds are not beat entries (beat tops out near
1,000 messages/s); the tick claims whatever is due from Redis sorted sets instead."""

TICK_SECONDS = 1.0


def beat_schedule() -> dict:
    return {
        "tick": {
            "task": "workers.tasks.tick",
            "schedule": TICK_SECONDS,
            "options": {"expires": 5 * TICK_SECONDS},
        }
    }
