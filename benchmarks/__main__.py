"""`make bench`: run every benchmark, print each one's JSON, then one table of all figures."""

from __future__ import annotations

import importlib
import json
import sys

NAMES = ["latency", "polling", "delivery", "clustering"]


def main(names: list[str]) -> None:
    rows = []
    for name in names or NAMES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError:
            continue
        result = module.run()
        print(json.dumps({"benchmark": name, **result}, indent=2), flush=True)
        rows += [(name, *row) for row in result.get("table", [])]
    print(f"\n{'benchmark':<10} {'measure':<52} {'value':>14} {'limit':>14} {'ratio':>7}")
    for name, measure, value, limit in rows:
        ratio = f"{value / limit:.2f}" if isinstance(limit, int | float) and limit else "-"
        print(f"{name:<10} {measure:<52} {value:>14,.1f} {limit if limit else '-':>14} {ratio:>7}")


if __name__ == "__main__":
    main(sys.argv[1:])
