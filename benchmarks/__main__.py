"""`make bench`: run every benchmark, print each one's records as JSON, then one table of all figures.

`python -m benchmarks [--quick] [NAME ...]`: NAME is a module of this package (or a dotted module
path); none given runs NAMES in order. BENCH_EXTRA_MODULES (comma-separated dotted paths) appends
more, which is how the harness's own test brings in a module that raises. A full run writes
benchmarks/results/latest.json and the generated part of docs/performance.md; a quick one writes
benchmarks/results/quick.json only (BENCH_RESULTS_DIR moves the results folder). A benchmark that
fails to import or raises fails the run, after the others have run and the table is printed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path

from benchmarks import report
from benchmarks.records import Record

# One line per benchmark module, in the order they run: adding a benchmark is adding its line.
NAMES = [
    "latency",
    "polling",
    "delivery",
    "freshness",
    "rss2email",
    "scale",
    "fanout",
    "clustering",
    "clustering_scale",
]

ROOT = Path(__file__).resolve().parent.parent
USAGE = "usage: python -m benchmarks [--quick] [NAME ...]"


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [arg for arg in argv if arg != "--quick"]
    if any(name.startswith("-") for name in names):
        print(USAGE, file=sys.stderr)
        return 2
    names = (names or NAMES) + [n for n in os.environ.get("BENCH_EXTRA_MODULES", "").split(",") if n]
    header = report.header(quick, names)
    records, failures = [], []
    for name in names:
        got, failure = run_one(name, quick)
        records += got
        failures += [failure] if failure else []
    header |= report.load_after() | {"failures": failures}
    print(report.table(records), flush=True)
    write(header, records, quick)
    for failure in failures:
        print(f"benchmark failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def run_one(name: str, quick: bool) -> tuple[list[Record], str | None]:
    """The records of one benchmark, or none and why not (one line)."""
    path = name if "." in name else f"benchmarks.{name}"
    try:
        module = importlib.import_module(path)
    except Exception as error:  # an import that fails is a failed benchmark, never a skipped one
        return [], f"{name}: cannot import {path}: {_line(error)}"
    try:
        records = module.run(quick=quick)
        if not isinstance(records, list) or not all(isinstance(r, Record) for r in records):
            raise TypeError(f"run() returned {type(records).__name__}, not a list of Record")
    except Exception as error:
        traceback.print_exc()
        return [], f"{name}: {_line(error)}"
    print(json.dumps({"benchmark": name, "records": [r.as_json() for r in records]}, indent=2), flush=True)
    return records, None


def _line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def write(header: dict, records: list[Record], quick: bool) -> None:
    folder = Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "benchmarks" / "results")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / ("quick.json" if quick else "latest.json")
    document = {"header": header, "records": [r.as_json() for r in records]}
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {out}")
    if not quick and records:
        doc = ROOT / "docs" / "performance.md"
        doc.write_text(report.refresh_doc(doc.read_text(), document))
        print(f"refreshed the figures in {doc}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
