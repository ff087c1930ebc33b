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
    rows = explain.deliveries_explained(r, overview.deliveries(r, failed, story, subscriber))
    output.print_deliveries(rows, as_json)


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
