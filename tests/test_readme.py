"""The README's walkthrough, run as written: its shell blocks in order, in two "terminals".

Only what a test cannot share with a person at a laptop is changed: the data dir and the API port
(so a developer's own service is not disturbed). The feed server and mail sink use the README's own
ports and /tmp/news, exactly as a newcomer would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.service import ROOT, wait_until
from tests.sinks import free_port

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
STORY = "Gantz quits Israel war cabinet"


def walkthrough() -> tuple[list[str], str]:
    """The shell blocks and the XML item of the walkthrough section, in order."""
    text = README.read_text()
    section = text.split("## A two-minute walkthrough", 1)[1].split("\n## ", 1)[0]
    shell = re.findall(r"```sh\n(.*?)```", section, re.S)
    [item] = re.findall(r"```xml\n(.*?)```", section, re.S)
    return shell, item.strip()


class Terminal:
    """A bash in its own process group, with its output kept; killing it kills what it started."""

    def __init__(self, env: dict, log: Path):
        self.env, self.log = env, log
        self.procs: list[subprocess.Popen] = []

    def start(self, script: str) -> subprocess.Popen:
        out = open(self.log, "ab")
        proc = subprocess.Popen(
            ["bash", "-c", script],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, script: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{script}\n--- exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def close(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def free(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
    except httpx.HTTPError:
        return True
    return False


def test_the_walkthrough_works_when_copied_line_by_line(tmp_path):
    (exports, start, servers, commands, inspect), item = walkthrough()
    assert "make run" in start and "NOTIFIER_MIN_INTERVAL" in exports
    assert free(8081), "port 8081 (the README's feed server) is taken"
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # a laptop: embedded Redis
    env |= {"NOTIFIER_DATA_DIR": str(tmp_path / "data"), "NOTIFIER_API_PORT": str(api_port)}
    first, second = Terminal(env, tmp_path / "first.log"), Terminal(env, tmp_path / "second.log")
    try:
        first.start(f"{exports}\n{start}")
        up = wait_until(lambda: not free(api_port), timeout=90)
        assert up, first.output()[-3000:]
        second.start(servers)
        assert wait_until(lambda: not free(8081), timeout=15), second.output()

        second.run(f"{exports}\n{commands}")
        feeds = json.loads(second.run(f"{exports}\n.venv/bin/notifier feed list --json").stdout)
        assert [f["name"] for f in feeds] == ["Local news"]
        baseline = lambda: json.loads(  # noqa: E731
            second.run(f"{exports}\n.venv/bin/notifier feed list --json").stdout
        )[0]["last_success"]
        assert wait_until(baseline, timeout=30), first.output()[-3000:]
        time.sleep(1)  # a new item's file time must differ from the baseline's (Last-Modified)

        feed = Path("/tmp/news/feed.xml")
        feed.write_text(
            feed.read_text().replace("<title>Local news</title>", f"<title>Local news</title>\n{item}")
        )
        arrived = wait_until(lambda: STORY in second.output(), timeout=5 + 10 + 10)
        assert arrived, first.output()[-3000:] + second.output()[-2000:]

        listed = json.loads(second.run(f"{exports}\n.venv/bin/notifier story list --json --limit 5").stdout)
        story_id = next(s["id"] for s in listed if s["title"] == STORY)
        for line in inspect.strip().splitlines():
            command = line.split("#", 1)[0].strip().replace(" ID", f" {story_id}")
            shown = second.run(f"{exports}\n{command}")
            if "story show" in command or "deliveries" in command:
                assert STORY in shown.stdout or "sent" in shown.stdout, shown.stdout
        assert second.output().count(f"Subject: {STORY}") == 1  # exactly one e-mail
    finally:
        second.close()
        first.close()
