"""`python -m workers run|worker|beat|alive ...`: the processes that run Celery.

The `notifier` command line checks its arguments and then hands over to these (the domain never
imports Celery); `notifier run`'s supervisor starts its children through here too. `alive` is
the container healthcheck of a worker or beat: has this process reached Redis lately?
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from notifier.core import admin, alive
from notifier.core.logs import install_log_redaction
from notifier.settings import Settings, SettingsError, get_settings


def celery_args(settings: Settings) -> list[str]:
    """Celery's global options: in JSON mode, no banner (stdout stays one object per line)."""
    return ["--quiet", "--no-color"] if settings.log_format == "json" else []


def say_as_json(message: str, f=sys.__stderr__) -> None:
    """Celery's own lines from its signal handlers ("worker: Warm shutdown"), as JSON objects.

    Written straight to the file descriptor as Celery does: logging from a signal handler can
    deadlock on a lock the interrupted code holds."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = {"ts": stamp, "level": "WARNING", "logger": "celery.apps.worker", "message": message.strip()}
    os.write(f.fileno(), (json.dumps(line) + "\n").encode())


def worker(queues: str, pool: str, concurrency: str, name: str) -> None:
    import celery.apps.worker

    from workers.app import app

    settings = get_settings()
    if settings.log_format == "json":
        celery.apps.worker.safe_say = say_as_json  # its one way of printing around our logging
    app.start(
        [*celery_args(settings), "worker", "--queues", queues, "--pool", pool, "--concurrency", concurrency]
        + ["--hostname", f"{name}@{settings.node_name}", "--loglevel", settings.log_level]
        + ["--without-gossip", "--without-mingle"]
    )


def beat() -> None:
    from workers.app import app

    settings = get_settings()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    schedule = str(Path(settings.data_dir).resolve() / "celerybeat-schedule")
    app.start([*celery_args(settings), "beat", "--schedule", schedule, "--loglevel", settings.log_level])


def main(argv: list[str]) -> int:
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"notifier: {exc}", file=sys.stderr)
        return 2
    match argv:
        case ["alive"]:
            return 0 if alive.fresh_file(settings.data_dir) else 1
        case ["run"]:
            install_log_redaction(settings.log_level)
            from workers.supervisor import run

            return run(settings)
        case ["worker", "--queues", queues, "--pool", pool, "--concurrency", concurrency, "--name", name]:
            install_log_redaction(settings.log_level)
            admin.at_start(settings)
            worker(queues, pool, concurrency, name)
        case ["worker", "--queues", queues, "--pool", pool, "--name", name]:
            install_log_redaction(settings.log_level)
            admin.at_start(settings)
            worker(queues, pool, "1", name)
        case ["beat"]:
            install_log_redaction(settings.log_level)
            admin.at_start(settings)
            beat()
        case _:
            usage = "run | worker --queues Q --pool P [--concurrency N] --name NAME | beat | alive"
            print(f"usage: python -m workers {usage}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
