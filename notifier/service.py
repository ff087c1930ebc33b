"""`notifier run`: one command that starts and supervises every part of the service.

Children: a worker for the poll queue, a worker for the deliver queue (so a slow provider
never delays polling), beat, and the API. With REDIS_URL unset, an embedded redis-server is
started first and stopped last. SIGTERM or SIGINT stops everything within ten seconds.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from notifier import embedded
from notifier.settings import Settings

STOP_GRACE = 8.0


def admin_token(settings: Settings) -> tuple[str, bool]:
    """The operator token: from the setting, else kept in the data dir (created once)."""
    if settings.admin_token:
        return settings.admin_token, False
    path = Path(settings.data_dir) / "admin_token"
    if path.exists():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token)
    path.chmod(0o600)
    return token, True


def child_commands() -> dict[str, list[str]]:
    me = [sys.executable, "-m", "notifier"]
    return {
        "worker-tick": me + ["worker", "--queues", "tick", "--pool", "solo", "--name", "tick"],
        "worker-poll": me
        + ["worker", "--queues", "poll", "--pool", "prefork", "--concurrency", "2", "--name", "poll"],
        "worker-deliver": me
        + ["worker", "--queues", "deliver", "--pool", "threads", "--concurrency", "8", "--name", "deliver"],
        "beat": me + ["beat"],
        "api": me + ["api"],
    }


class Supervisor:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.redis: embedded.EmbeddedRedis | None = None
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self) -> None:
        env = dict(os.environ)
        if not self.settings.redis_url:
            self.redis = embedded.EmbeddedRedis(self.settings.data_dir).start()
            env["REDIS_URL"] = self.redis.url
            print(f"embedded Redis on {self.redis.url} (data in {self.redis.data_dir})", flush=True)
        for name, command in child_commands().items():
            self.children[name] = subprocess.Popen(command, env=env)

    def wait(self) -> int:
        """Run until a signal, or until a child dies (then stop the rest: fail loudly, not half-up)."""
        while not self.stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping", file=sys.stderr, flush=True)
                    self.stop()
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self, *_) -> None:
        if self.stopping:
            return
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.redis:
            self.redis.stop()


def run(settings: Settings) -> int:
    token, created = admin_token(settings)
    if created:
        print(f"admin token (shown once, kept in {settings.data_dir}/admin_token): {token}", flush=True)
    supervisor = Supervisor(settings)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    try:
        supervisor.start()
        print(f"notifier running: API on http://{settings.api_host}:{settings.api_port}/healthz", flush=True)
        code = supervisor.wait()
    finally:
        supervisor.stop()
    return code


def worker(queues: str, pool: str, concurrency: int, name: str, loglevel: str) -> None:
    from workers.app import app  # celery is loaded only by the processes that run it

    app.worker_main(
        [
            "worker",
            "--queues",
            queues,
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}@%h",
            "--loglevel",
            loglevel,
            "--without-gossip",
            "--without-mingle",
        ]
    )


def beat(settings: Settings, loglevel: str) -> None:
    from workers.app import app

    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    schedule = str(Path(settings.data_dir).resolve() / "celerybeat-schedule")
    app.start(["beat", "--schedule", schedule, "--loglevel", loglevel])


def api(settings: Settings) -> None:
    import uvicorn

    logging.getLogger("uvicorn.access").addFilter(TokenPaths())
    uvicorn.run(
        "notifier.api:app",
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
    )


class TokenPaths(logging.Filter):
    """Access-log lines carry unsubscribe tokens and WebSub ids in their paths: mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_masked_path(a) for a in record.args)
        return True


def _masked_path(value):
    if isinstance(value, str) and value.startswith(("/unsubscribe/", "/websub/")):
        return value.split("/", 2)[1].join(("/", "/***"))
    return value
