"""Run the real thing for end-to-end tests: `notifier` subprocesses (worker, beat, run, CLI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Service:
    """Starts parts of the service as subprocesses with one shared environment."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """`notifier ARGS...` in the background; `env` adds to (or overrides) the shared one."""
        return self.spawn(name, [sys.executable, "-m", "notifier", *args], env=env)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd=ROOT):
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            env={**self.env, **(env or {})},
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_worker(self, name: str = "worker", pool: str = "threads") -> subprocess.Popen:
        return self.start(
            name, "worker", "--pool", pool, "--concurrency", "1" if pool == "solo" else "4", "--name", name
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=15)

    def stop_one(self, name: str, timeout: float = 15) -> None:
        """SIGTERM to the process alone (not its group): Celery's warm shutdown, as a supervisor does."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name in list(self.procs):
            try:
                self.procs[name].wait(timeout=12)
            except subprocess.TimeoutExpired:
                os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs.clear()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "notifier", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"notifier {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def cli_json(self, *args: str):
        return json.loads(self.cli(*args, "--json").stdout)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.log_dir.glob("*.log")
        )

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def service_env(tmp_path, redis_url: str, **settings: str) -> dict[str, str]:
    """The environment every end-to-end test starts the service with: its Redis, a data dir of its
    own, local feeds and sinks allowed, polls as often as 1 s; `settings` adds or overrides."""
    return {
        "REDIS_URL": redis_url,
        "NOTIFIER_DATA_DIR": str(tmp_path / "data"),
        "NOTIFIER_ALLOW_PRIVATE_HOSTS": "true",
        "NOTIFIER_MIN_INTERVAL": "1",
        **settings,
    }


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
