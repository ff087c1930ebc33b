"""`python -m tests.faults.soak [--seconds 600] [--feeds 1000] ...` (what `make soak` runs):
prints the table, then the summary as one JSON line; exits 1 if an alert was lost, sent twice
with two identities, or sent where it should not have gone."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from tests.faults.soak import Soak, SoakError, failed, run_soak
from tests.faults.soak.count import table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="how long the chaos lasts")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=10, help="seconds between polls of a feed")
    parser.add_argument("--rate", type=float, default=2.0, help="new stories per second")
    parser.add_argument("--sink-delay", type=float, default=0.2, help="seconds a receiver takes per alert")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: a new one)")
    parser.add_argument("--dir", type=Path, default=None, help="where logs go (default: a new temp dir)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.feeds < 1 or args.interval < 1 or args.rate <= 0:
        parser.error("--seconds, --feeds, --interval and --rate must be positive")
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns of its own API at each login
    root = args.dir or Path(tempfile.mkdtemp(prefix="notifier-soak-"))
    print(f"soak: {args.feeds} feeds for {args.seconds:.0f} s; logs in {root}", flush=True)
    seed = {} if args.seed is None else {"seed": args.seed}
    soak = Soak(root, args.seconds, args.feeds, args.interval, args.rate, sink_delay=args.sink_delay, **seed)
    try:
        summary = run_soak(soak)
    except SoakError as exc:
        print(f"soak: {exc} (logs in {root})", file=sys.stderr)
        return 2
    print(table(summary))
    print(json.dumps(summary))
    return 1 if failed(summary) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
