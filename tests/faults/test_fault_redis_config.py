"""A Redis that evicts keys under memory pressure would drop ledger rows and claims silently: the
service refuses to start on it, with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.faults.harness import own_redis
from tests.service import ROOT

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("command", [["worker", "--pool", "solo"], ["beat"], ["status"]])
def test_the_service_refuses_a_redis_that_evicts_keys(tmp_path, command):
    with own_redis(tmp_path, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru") as (url, _):
        env = {"REDIS_URL": url, "NOTIFIER_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [sys.executable, "-m", "notifier", *command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "maxmemory-policy allkeys-lru" in lines[0] and "noeviction" in lines[0], lines


def test_noeviction_starts(tmp_path):
    with own_redis(tmp_path, "--maxmemory-policy", "noeviction") as (url, _):
        env = {"REDIS_URL": url, "NOTIFIER_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [sys.executable, "-m", "notifier", "status"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 0, done.stderr
