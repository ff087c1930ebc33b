"""What every command module shares: the two errors a command may raise, the Redis it talks
to, a Typer group made the same way everywhere, and the option types used by several nouns."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.core import db
from notifier.settings import get_settings


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2, nothing stored changed."""


class CommandFailed(Exception):
    """The input was fine but the work failed (a poll that could not fetch): exit code 1."""


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def new_group(help_text: str, **extra) -> typer.Typer:
    """A command group: plain help text (no rich markup), errors left to `notifier.cli.main`."""
    settings = {"no_args_is_help": True} | extra
    return typer.Typer(
        help=help_text,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        **settings,
    )


def redis():
    return db.connect(db.redis_url(get_settings()))


def refuse_unless(check) -> None:
    """Run a check; the address guard's, Apprise's or a validator's refusal becomes a UsageError."""
    from notifier.alerts.channels.base import DeliveryError  # Apprise and aiohttp load only when
    from notifier.core.netguard import GuardError  # a command checks a URL: the CLI starts faster

    try:
        check()
    except (GuardError, DeliveryError, ValueError) as exc:
        raise UsageError(str(exc)) from None
