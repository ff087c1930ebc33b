"""The command line: the typer app, one module per noun, and `main`, the console script.

Whatever goes wrong with the input, the user gets one line on stderr (`notifier: ...`), exit
code 2 and no traceback: our own refusals (`UsageError`), bad settings, and everything click
rejects while parsing. Typer 0.29 vendors click (`typer._click`), so its errors are not
`click.ClickException`s any more; they are told apart by class name, not identity, so this
keeps working whichever click raised them. A command group given no subcommand prints its help
on stdout and exits 0, as `--help` does (and as click did before 8.2).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

import notifier
from notifier.cli import by_hand, output, service, status
from notifier.cli.common import CommandFailed, UsageError, new_group
from notifier.cli.deliveries import deliveries_app
from notifier.cli.feeds import feed_app
from notifier.cli.stories import story_app
from notifier.cli.subscribers import subscriber_app
from notifier.cli.topics import topic_app
from notifier.core import db, embedded
from notifier.core.logs import install_log_redaction
from notifier.core.redact import redact_text
from notifier.settings import SettingsError, get_settings

__all__ = ["CommandFailed", "UsageError", "app", "main"]

app = new_group("Breaking-news alerts from feeds, to each subscriber exactly once.")
app.add_typer(feed_app, name="feed")
app.add_typer(topic_app, name="topic")
app.add_typer(subscriber_app, name="subscriber")
app.add_typer(story_app, name="story")
app.add_typer(deliveries_app, name="deliveries")
app.command("status")(status.show_status)
app.command("poll")(by_hand.poll_one)
app.command("parse")(by_hand.parse_file)
app.command("run")(service.run_all)
app.command("worker")(service.run_worker)
app.command("beat")(service.run_beat)
app.command("api")(service.run_api)


def print_version(wanted: bool) -> None:
    if wanted:
        print(f"notifier {notifier.__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    """Breaking-news alerts from feeds, to each subscriber exactly once."""


def main() -> None:
    try:
        code = run_command_line(sys.argv[1:])
    except KeyboardInterrupt:
        code = fail("interrupted", 130)
    sys.exit(code)


def run_command_line(args: list[str]) -> int:
    """Run one command line; return the exit code."""
    command = typer.main.get_command(app)
    try:
        install_log_redaction(get_settings().log_level)
        result = command.main(args, prog_name="notifier", standalone_mode=False)
    except (UsageError, SettingsError) as exc:
        return fail(str(exc), 2)
    except (CommandFailed, db.RedisUnavailable, embedded.EmbeddedRedisError) as exc:
        return fail(str(exc), 1)
    except Exception as exc:  # noqa: BLE001 - whatever it is, one line and no traceback
        if from_click(exc):
            return click_outcome(exc)
        if get_settings().log_level == "DEBUG":
            raise  # the traceback is what someone at DEBUG is looking for
        return fail(
            f"unexpected error ({type(exc).__name__}: {redact_text(str(exc))}); "
            "NOTIFIER_LOG_LEVEL=DEBUG shows the traceback",
            1,
        )
    if result == 130:  # click turns Ctrl-C into a silent exit code 130
        return fail("interrupted", 130)
    return result if isinstance(result, int) else 0


def from_click(exc: Exception) -> bool:
    return any(cls.__module__.split(".")[0] in ("click", "typer") for cls in type(exc).__mro__[:-2])


def click_outcome(exc: Exception) -> int:
    """What an exception click or typer raised while parsing means for the user."""
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    if "NoArgsIsHelpError" in kinds:
        print(exc.ctx.get_help())
        return 0
    if "Exit" in kinds:
        return getattr(exc, "exit_code", 0)
    if "Abort" in kinds:
        return fail("interrupted", 130)
    if "ClickException" in kinds:
        return fail(with_command(exc), 2)
    return fail(f"{type(exc).__name__}: {exc}", 2)


def with_command(exc) -> str:
    """Click's message, naming the subcommand and where its help is."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path.partition(" ")[2] if ctx is not None else ""
    hint = f"notifier {path} --help" if path else "notifier --help"
    return f"{path}: {message} (see {hint})" if path else f"{message} (see {hint})"


def fail(message: str, code: int) -> int:
    print(f"notifier: {' '.join(output.clean(message).split())}", file=sys.stderr)
    return code
