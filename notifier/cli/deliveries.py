"""`notifier deliveries`: the delivery ledger, one row per alert to one notification URL; and
`notifier deliveries retry ID` for an alert that failed or was dropped."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.alerts import explain, overview
from notifier.cli import output
from notifier.cli.common import JsonFlag, new_group, redis, refusals_as_usage_errors

deliveries_app = new_group(
    "The delivery ledger: what was sent to whom, what failed and why.",
    no_args_is_help=False,
    invoke_without_command=True,
)


STATE_HELP = (
    f"Only deliveries in this state: {', '.join(overview.STATES)}, or waiting (any of "
    f"{', '.join(overview.WAITING)}). Repeat for several."
)


@deliveries_app.callback()
def deliveries_list(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    failed: Annotated[bool, typer.Option(help="Only those that failed or were dropped.")] = False,
    story: Annotated[str | None, typer.Option(help="Only the deliveries of this story.")] = None,
    subscriber: Annotated[str | None, typer.Option(help="Only the deliveries to this subscriber.")] = None,
    state: Annotated[list[str] | None, typer.Option(metavar="STATE", help=STATE_HELP)] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help=f"Show at most this many (default {overview.RECENT:,}; a story's: all)."),
    ] = None,
) -> None:
    """The latest deliveries, newest first, or all the deliveries of one story. Filters look back
    over the newest 10,000 alerts of the ledger, not only over the rows shown."""
    if ctx.invoked_subcommand is not None:
        return
    r = redis()
    shown = limit or (None if story else overview.RECENT)
    peek = shown + 1 if shown else None  # one row more than shown: whether there is more to see
    with refusals_as_usage_errors():
        rows = overview.deliveries(r, failed, story, subscriber, limit=peek, states=tuple(state or ()))
        if not rows:
            overview.why_none(r, story, subscriber)
    output.print_deliveries(explain.deliveries_explained(r, rows[:shown]), as_json)
    if shown and len(rows) > shown and not as_json:
        output.say(f"the first {shown:,} shown; --limit N shows more")


@deliveries_app.command("retry")
def deliveries_retry(
    delivery_id: Annotated[
        str, typer.Argument(metavar="ID", help="The delivery's id (see `notifier deliveries`).")
    ],
) -> None:
    """Send a failed or dropped delivery again, now. Any other state is refused."""
    with refusals_as_usage_errors():
        before = overview.retry_delivery(redis(), delivery_id)
    output.say(f"delivery {delivery_id} ({before}) will be sent again on the next tick")
