"""`python -m benchmarks --quick`, run as `make bench QUICK=1` runs it, so the harness never rots.
These check that it works and reports what it must; they never judge a figure or a time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.__main__ import NAMES
from benchmarks.records import Record, Target

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"benchmark", "figure", "unit", "runs", "ours", "spread", "limit", "limit_runs", "ratio"}
KEYS |= {"target", "holds", "note"}


def bench(tmp_path: Path, *args: str, extra: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path), "BENCH_EXTRA_MODULES": extra}
    command = [sys.executable, "-m", "benchmarks", "--quick", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=850)


def well_formed(record: dict) -> bool:
    runs = record["runs"]
    numbers = all(isinstance(x, int | float) for x in runs + record["limit_runs"])
    return KEYS <= record.keys() and runs and numbers and min(runs) <= record["ours"] <= max(runs)


@pytest.mark.timeout(900)  # every quick benchmark, each starting the service, beside the rest of the suite
def test_the_quick_run_of_every_benchmark_exits_0_prints_the_table_and_writes_quick_json(tmp_path):
    doc_before = (ROOT / "docs" / "performance.md").read_text()
    done = bench(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^benchmark +figure +ours", done.stdout, re.M)  # the table, as wide as its names
    written = json.loads((tmp_path / "quick.json").read_text())
    assert written["header"]["quick"] is True and written["header"]["cpu"]
    records = written["records"]
    assert {r["benchmark"] for r in records} == set(NAMES)
    assert all(well_formed(r) for r in records), [r for r in records if not well_formed(r)]
    for r in records:  # every row of the file is a row of the table
        assert r["figure"] in done.stdout
    assert not (tmp_path / "latest.json").exists()
    assert (ROOT / "docs" / "performance.md").read_text() == doc_before


def test_a_benchmark_that_raises_or_cannot_be_imported_fails_the_run_after_the_others(tmp_path):
    extra = "tests.benchfakes.raises,tests.benchfakes.broken"
    done = bench(tmp_path, "tests.benchfakes.fine", extra=extra)
    assert done.returncode != 0
    failed = [line for line in done.stderr.splitlines() if line.startswith("benchmark failed:")]
    assert len(failed) == 2
    assert "tests.benchfakes.raises: RuntimeError: the service did not start" in failed[0]
    assert "no_such_package_for_benchmarks" in failed[1]
    assert "sha256 of 64 KB" in done.stdout  # the one that worked is in the table all the same
    written = json.loads((tmp_path / "quick.json").read_text())
    assert [r["benchmark"] for r in written["records"]] == ["fine"]
    assert len(written["header"]["failures"]) == 2


def test_an_unknown_option_is_one_line_and_exit_2(tmp_path):
    done = bench(tmp_path, "--fast")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def document(benchmark: str, runs: list[float], date: str) -> dict:
    head = {"date": date, "cpu": "AMD EPYC", "cores": 2, "python": "3.11.7", "commit": "abc1234"}
    head |= {"load_before": [1.0, 1.0, 1.0], "load_after": [2.0, 1.0, 1.0]}
    half = Target(">=", 0.5, "ratio")
    record = Record(benchmark, "alerts/s", "/s", runs, 100.0, [90.0, 100.0], half, "a note")
    return {"header": head, "records": [record.as_json()]}


def test_a_full_run_replaces_its_own_sections_and_keeps_the_prose_and_the_other_sections():
    prose = "# Performance\n\nHand-written text.\n"
    once = report.refresh_doc(prose, document("polling", [10.0, 70.0, 60.0], "2026-01-01 10:00 UTC"))
    after = "\nMore prose after.\n"
    twice = report.refresh_doc(once + after, document("delivery", [1.0], "2026-01-02 10:00 UTC"))
    again = report.refresh_doc(twice, document("polling", [5.0], "2026-01-03 10:00 UTC"))
    assert again.startswith(prose) and again.endswith(after)
    assert again.count(report.BEGIN) == again.count(report.END) == 1
    assert again.index("#### polling") < again.index("#### delivery")  # a section keeps its place
    assert "2026-01-01" not in again and "2026-01-02" in again and "2026-01-03" in again
    assert "| alerts/s | 5.00 /s | 5.00–5.00 (1) | 100 | 0.05 | ratio >= 0.5 | no |" in again
    assert "| alerts/s | 60.0 /s | 10.0–70.0 (3) | 100 | 0.60 | ratio >= 0.5 | yes |" in once
    assert "- alerts/s: a note" in again


def test_the_table_shows_the_median_the_spread_and_whether_the_target_holds():
    record = Record("x", "polls/s", "/s", [3.0, 1.0, 2.0], 4.0, [4.0], Target(">=", 0.5, "ratio"))
    header, row = report.table([record]).strip().splitlines()
    assert header.split() == "benchmark figure ours spread (n) limit ratio target holds".split()
    assert row.split() == "x polls/s 2.00 /s 1.00–3.00 (3) 4.00 0.50 ratio >= 0.5 yes".split()
