"""`notifier run | worker | beat | api`: the long-running parts. The Celery ones hand over to
`python -m workers` (the domain never imports Celery); the API runs here."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from notifier.core import db
from notifier.settings import get_settings


def run_all() -> None:
    """Worker, beat and API in one command; with REDIS_URL unset, an embedded Redis too."""
    if get_settings().redis_url:
        refuse_evicting_redis(get_settings().redis_url)
    hand_over(["run"])


def run_worker(
    queues: Annotated[
        str, typer.Option(help="Comma-separated queues to take tasks from.")
    ] = "tick,poll,deliver",
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, threads or solo.")] = "prefork",
    concurrency: Annotated[int, typer.Option(min=1, help="Processes or threads in the pool.")] = 2,
    name: Annotated[str, typer.Option(help="The worker's name (its hostname is added).")] = "worker",
) -> None:
    """A Celery worker: polls feeds, fans out stories, sends alerts."""
    use_redis_for_children()
    hand_over(
        ["worker", "--queues", queues, "--pool", pool, "--concurrency", str(concurrency), "--name", name]
    )


def run_beat() -> None:
    """Celery beat: one tick a second, which finds the feeds, stories and alerts that are due."""
    use_redis_for_children()
    hand_over(["beat"])


def run_api() -> None:
    """The HTTP API and the web page."""
    from notifier.api.serve import serve

    serve(use_redis_for_children())


def hand_over(args: list[str]) -> None:
    """Become `python -m workers ...`: the processes that run Celery live outside the domain."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "workers", *args])


def use_redis_for_children():
    """Point the Celery app at the right Redis before it is imported."""
    settings = get_settings()
    if not settings.redis_url:
        os.environ["REDIS_URL"] = db.redis_url(settings)
        get_settings.cache_clear()
    refuse_evicting_redis(get_settings().redis_url)
    return get_settings()


def refuse_evicting_redis(url: str) -> None:
    """Stop the start with one line when Redis would evict keys (db.refuse_eviction)."""
    try:
        db.connect(url)
    except db.RedisMisconfigured:
        raise
    except db.RedisUnavailable:
        pass  # not up yet: Celery keeps trying to reach it, as before
