"""`notifier deliveries`: the delivery ledger, one row per alert to one notification URL; and
`notifier deliveries retry ID` for an alert that failed or was dropped."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.alerts import ledger
from notifier.cli import output
from notifier.cli.common import JsonFlag, UsageError, new_group, redis

deliveries_app = new_group(
    "The delivery ledger: what was sent to whom, what failed and why.",
    no_args_is_help=False,
    invoke_without_command=True,
)

GAVE_UP = ("failed", "dropped")


@deliveries_app.callback()
def deliveries_list(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    failed: Annotated[bool, typer.Option(help="Only those that failed or were dropped.")] = False,
    story: Annotated[str | None, typer.Option(help="Only the deliveries of this story.")] = None,
    subscriber: Annotated[str | None, typer.Option(help="Only the deliveries to this subscriber.")] = None,
) -> None:
    """The latest deliveries, newest first, or all the deliveries of one story."""
    if ctx.invoked_subcommand is not None:
        return
    r = redis()
    rows = ledger.of_story(r, story) if story else ledger.recent(r)
    rows = [
        d
        for d in rows
        if (not failed or d.state in GAVE_UP) and (not subscriber or d.subscriber == subscriber)
    ]
    output.print_deliveries(rows, as_json)


@deliveries_app.command("retry")
def deliveries_retry(
    delivery_id: Annotated[
        str, typer.Argument(metavar="ID", help="The delivery's id (see `notifier deliveries`).")
    ],
) -> None:
    """Send a failed or dropped delivery again, now. Any other state is refused."""
    before = ledger.retry_by_hand(redis(), delivery_id)
    if before is None:
        raise UsageError(f"no delivery with id {delivery_id}")
    if before not in GAVE_UP:
        raise UsageError(f"delivery {delivery_id} is {before}; only a failed or dropped one can be retried")
    output.say(f"delivery {delivery_id} ({before}) will be sent again on the next tick")
