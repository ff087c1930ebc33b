"""A benchmark that cannot be imported: it needs a package that is not installed."""

import no_such_package_for_benchmarks  # noqa: F401


def run(quick: bool = False) -> list:
    return []
