"""`notifier run`: one command that starts and supervises every part of the service.

Children: a worker for the tick queue, one for the poll queue, one for the deliver queue (fan-out
and sends: so a slow provider or a big fan-out never delays polling, and a long poll batch never
stops the tick), beat, and the API. With REDIS_URL unset, an embedded redis-server is started
first and stopped last. SIGTERM or SIGINT is passed on to every child; a worker waits up to
NOTIFIER_STOP_GRACE (6 s) for its sends in flight, and a child still running STOP_MARGIN seconds
after that is killed: everything stops within ten seconds, docker's own stop timeout.

A child that dies is started again (a Celery worker can exit when Redis drops mid-acknowledge,
kombu #582; leases and same-identity resends cover what it held). One that keeps dying, more
than CRASHES_ALLOWED times within CRASH_WINDOW seconds, stops the whole service: fail loudly,
not half-up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from notifier.core import admin, embedded, lifetime
from notifier.settings import Settings

STOP_MARGIN = 2.0  # seconds a child gets past NOTIFIER_STOP_GRACE: Celery's own shutdown
CRASHES_ALLOWED = 5
CRASH_WINDOW = 120.0
RESTART_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds before the 1st, 2nd, ... restart in a window


def child_commands() -> dict[str, list[str]]:
    workers, me = [sys.executable, "-m", "workers"], [sys.executable, "-m", "notifier"]
    return {
        "worker-tick": workers + ["worker", "--queues", "tick", "--pool", "solo", "--name", "tick"],
        "worker-poll": workers
        + ["worker", "--queues", "poll", "--pool", "prefork", "--concurrency", "2", "--name", "poll"],
        # two processes, each sending on its own event loop and lane threads: both cores send
        "worker-deliver": workers
        + ["worker", "--queues", "deliver", "--pool", "prefork", "--concurrency", "2", "--name", "deliver"],
        "beat": workers + ["beat"],
        "api": me + ["api"],
    }


class Supervisor:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.redis: embedded.EmbeddedRedis | None = None
        self.children: dict[str, subprocess.Popen] = {}
        self.crashes: dict[str, list[float]] = {}
        self.env: dict[str, str] = {}
        self.stopping = False

    def start(self) -> None:
        env = self.env = dict(os.environ)
        if not self.settings.redis_url:
            self.redis = embedded.EmbeddedRedis(self.settings.data_dir).start()
            env["REDIS_URL"] = self.redis.url
            say(self.settings, f"embedded Redis on {self.redis.url} (data in {self.redis.data_dir})")
        # before the children, so that `notifier run` is the process that prints a new token
        admin.at_start(self.settings)
        for name, command in child_commands().items():  # a SIGKILL of ours leaves no orphan (lifetime.py)
            self.children[name] = subprocess.Popen(command, env=env, preexec_fn=lifetime.ends_with_parent())

    def wait(self) -> int:
        """Run until a signal; restart a child that died, or stop all if one keeps dying."""
        while not self.stopping:
            for name, child in list(self.children.items()):
                if child.poll() is not None and not self.stopping and not self.restart(name, child):
                    return 1
            time.sleep(0.2)
        return 0

    def restart(self, name: str, child: subprocess.Popen) -> bool:
        now = time.monotonic()
        recent = [t for t in self.crashes.get(name, []) if now - t < CRASH_WINDOW] + [now]
        self.crashes[name] = recent
        if len(recent) > CRASHES_ALLOWED:
            told = f"{name} exited with {child.returncode} {len(recent)} times; stopping"
            say(self.settings, told, sys.stderr)
            return False
        delay = RESTART_DELAYS[min(len(recent), len(RESTART_DELAYS)) - 1]
        told = f"{name} exited with {child.returncode}; starting it again in {delay:g} s"
        say(self.settings, told, sys.stderr)
        time.sleep(delay)
        if not self.stopping:
            again, ends = child_commands()[name], lifetime.ends_with_parent()
            self.children[name] = subprocess.Popen(again, env=self.env, preexec_fn=ends)
        return True

    def stop(self, *_) -> None:
        if self.stopping:
            return
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_grace + STOP_MARGIN
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.redis:
            self.redis.stop()


def say(settings: Settings, message: str, stream=None) -> None:
    """A line for the operator, whole (a log line would lose the port to URL redaction); in
    NOTIFIER_LOG_FORMAT=json an object like every other line of the output."""
    if settings.log_format == "json":
        message = json.dumps({"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "message": message})
    print(message, file=stream or sys.stdout, flush=True)


def run(settings: Settings) -> int:
    supervisor = Supervisor(settings)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    try:
        supervisor.start()
        say(settings, f"notifier running: the page and API on {settings.base_url}/ (health: /readyz)")
        code = supervisor.wait()
    finally:
        supervisor.stop()
    return code
