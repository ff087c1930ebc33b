"""What every command module shares: the two errors a command may raise, the Redis it talks
to, a Typer group made the same way everywhere, and the option types used by several nouns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from notifier.core import db
from notifier.core.refusals import Conflict, Refused
from notifier.settings import get_settings
from notifier.stories.store import NotFound


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


@contextmanager
def refusals_as_usage_errors(conflict_hint: str = "") -> Iterator[None]:
    """A domain function's refusal (bad input, a clash, nothing by that name) is the user's
    mistake; a clash may get a hint at the command that resolves it."""
    try:
        yield
    except Conflict as exc:
        raise UsageError(f"{exc}; {conflict_hint}" if conflict_hint else str(exc)) from None
    except (Refused, NotFound) as exc:
        raise UsageError(str(exc)) from None
