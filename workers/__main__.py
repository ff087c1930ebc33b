"""`python -m workers run|worker|beat ...`: the processes that run Celery.

The `notifier` command line checks its arguments and then hands over to these (the domain never
imports Celery); `notifier run`'s supervisor starts its children through here too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from notifier.core.redact import install_log_redaction
from notifier.settings import SettingsError, get_settings


def worker(queues: str, pool: str, concurrency: str, name: str) -> None:
    from workers.app import app

    app.worker_main(
        ["worker", "--queues", queues, "--pool", pool, "--concurrency", concurrency]
        + ["--hostname", f"{name}@%h", "--loglevel", get_settings().log_level]
        + ["--without-gossip", "--without-mingle"]
    )


def beat() -> None:
    from workers.app import app

    settings = get_settings()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    schedule = str(Path(settings.data_dir).resolve() / "celerybeat-schedule")
    app.start(["beat", "--schedule", schedule, "--loglevel", settings.log_level])


def main(argv: list[str]) -> int:
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"notifier: {exc}", file=sys.stderr)
        return 2
    install_log_redaction(settings.log_level)
    match argv:
        case ["run"]:
            from workers.supervisor import run

            return run(settings)
        case ["worker", "--queues", queues, "--pool", pool, "--concurrency", concurrency, "--name", name]:
            worker(queues, pool, concurrency, name)
        case ["worker", "--queues", queues, "--pool", pool, "--name", name]:
            worker(queues, pool, "1", name)
        case ["beat"]:
            beat()
        case _:
            usage = "run | worker --queues Q --pool P [--concurrency N] --name NAME | beat"
            print(f"usage: python -m workers {usage}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
