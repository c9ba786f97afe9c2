"""How every ``ledger`` command fails: one line on stderr, ``CODE: message``, and a documented exit code.

:func:`run` is the console script's entry point for any Typer application (``ledger`` itself, or a
group run standalone). It turns every exception into one line, never a traceback (``LEDGER_DEBUG=1``
shows the traceback as well), and exits with:

* ``1`` (:attr:`ExitCode.VERIFICATION_FAILED`): a proof, bundle, checkpoint or the ledger itself does not verify;
* ``2`` (:attr:`ExitCode.USAGE`): bad usage or input (an option, a missing file, an unknown partner, no ledger);
* ``3`` (:attr:`ExitCode.UNAVAILABLE`): infrastructure unavailable (PostgreSQL or Redis unreachable, database locked);
* ``4`` (:attr:`ExitCode.INTERNAL`): a bug (an exception nobody planned for); please report it;
* ``5`` (:attr:`ExitCode.ROLLBACK`): the database is older than the checkpoint last published (kept
  beside the signing key): a restored backup or deleted rows; the server refuses to start.

A command states a failure by raising :class:`CliFailure` (or any ledger error: :func:`describe` maps
the hierarchy). :func:`run` also makes help plain text (no boxes, no ``<str>`` type tags), wide when
piped (never cut at 80 columns), and lists commands in :data:`COMMAND_ORDER` (then the others, as added).
See docs/cli.md, "Errors and exit codes".
"""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from enum import IntEnum
from typing import NoReturn

import typer
import typer.core
from eventsourcing.persistence import InterfaceError, OperationalError
from typer._click import Context
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer vendors click: its own classes

from ledger_core.engine.errors import IntegrityViolation, LedgerError
from ledger_core.engine.merkle import RolledBack
from proofs.errors import ProofError

DEBUG_ENV = "LEDGER_DEBUG"
PIPED_HELP_WIDTH = 10_000
"""Help width when stdout is not a terminal: wide enough that no line is ever wrapped."""

COMMAND_ORDER = (
    "init",
    "serve",
    "demo",
    "partners",
    "operators",
    "claims",
    "members",
    "outcomes",
    "webhooks",
    "verify",
    "stats",
    "log",
    "seal",
    "sealer",
    "writer",
    "checkpoint",
    "proof",
    "audit",
    "export",
    "keys",
    "witness",
)
"""The top-level order of ``ledger --help``: set up, run, operate, check, prove. Unknown groups follow."""


class ExitCode(IntEnum):
    """The exit status of a ``ledger`` command (docs/cli.md)."""

    OK = 0
    VERIFICATION_FAILED = 1
    USAGE = 2
    UNAVAILABLE = 3
    INTERNAL = 4
    ROLLBACK = 5


class CliFailure(Exception):
    """A command's failure: ``code`` (machine), ``message`` (one line, naming what the user typed), exit code."""

    def __init__(self, code: str, message: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code

    def line(self) -> str:
        """The one line printed on stderr: ``CODE: message``."""
        return f"{self.code}: {' '.join(self.message.split())}"


UNAVAILABLE_CODES = frozenset(
    {
        "RATE_LIMITER_UNAVAILABLE",
        "REPLAY_CACHE_UNAVAILABLE",
        "IDEMPOTENCY_STORE_UNAVAILABLE",
        "WRITER_CLOSED",
        "WRITER_LEADERSHIP_LOST",
    }
)


def describe(error: BaseException) -> CliFailure:
    """The :class:`CliFailure` an exception stands for (the one place that maps errors to exit codes)."""
    if isinstance(error, CliFailure):
        return error
    if isinstance(error, UsageError):
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx is not None else ""
        return CliFailure("USAGE_ERROR", error.format_message() + hint)
    if isinstance(error, typer.TyperException):
        return CliFailure("USAGE_ERROR", error.format_message())
    if isinstance(error, RolledBack):
        return CliFailure(error.code, str(error), ExitCode.ROLLBACK)
    if isinstance(error, IntegrityViolation):
        return CliFailure(error.code, str(error), ExitCode.VERIFICATION_FAILED)
    if isinstance(error, LedgerError):
        exit_code = ExitCode.UNAVAILABLE if error.code in UNAVAILABLE_CODES else ExitCode.USAGE
        return CliFailure(error.code, _naming(error), exit_code)
    if isinstance(error, ProofError):
        return CliFailure("PROOF_INVALID", str(error), ExitCode.VERIFICATION_FAILED)
    if isinstance(error, (OperationalError, InterfaceError, sqlite3.OperationalError, ConnectionError)):
        return CliFailure("DATABASE_UNAVAILABLE", _first_line(error), ExitCode.UNAVAILABLE)
    if _is_redis_error(error):
        return CliFailure("REDIS_UNAVAILABLE", _first_line(error), ExitCode.UNAVAILABLE)
    if isinstance(error, OSError):
        where = f" {error.filename!s}" if error.filename is not None else ""
        return CliFailure("FILE_ERROR", f"cannot use{where}: {error.strerror or error}")
    return CliFailure(
        "INTERNAL_ERROR", f"{type(error).__name__}: {_first_line(error)} (rerun with {DEBUG_ENV}=1)", ExitCode.INTERNAL
    )


def _naming(error: LedgerError) -> str:
    """The message, plus the member id the user typed when the message does not already name it."""
    member = error.details.get("partner_member_id")
    text = str(error)
    return text if member is None or str(member) in text else f"{text} (member {member!r})"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_redis_error(error: BaseException) -> bool:
    """redis-py's connection errors, without importing redis when it is not used."""
    module = type(error).__module__
    names = {"ConnectionError", "TimeoutError", "BusyLoadingError"}
    return module.startswith("redis") and type(error).__name__ in names


def fail(failure: CliFailure) -> NoReturn:
    """Print ``failure`` as its one line on stderr and exit with its code."""
    typer.echo(failure.line(), err=True)
    sys.exit(int(failure.exit_code))


class _PlainArgument(typer.core.TyperArgument):
    """An argument shown by its name only in help (``PROOF.json``, not ``PROOF.json <path>``)."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None


def _plain_parameters(command: typer.core.TyperCommand | typer.core.TyperGroup) -> None:
    """Option values named like click's (``--data-dir DATA_DIR``, ``--tier [sandbox|standard]``), no ``<str>``."""
    for param in command.params:
        if isinstance(param, typer.core.TyperOption) and param.metavar is None and not param.is_flag:
            choices = param.type_descriptor.choices if param.type_descriptor.is_choice else None
            param.metavar = f"[{'|'.join(map(str, choices))}]" if choices else (param.name or "value").upper()
        elif type(param) is typer.core.TyperArgument:
            param.__class__ = _PlainArgument
            param.metavar = param.metavar or (param.name or "value").upper()


def prepare(command: typer.core.TyperCommand | typer.core.TyperGroup, *, top: bool = True, piped: bool) -> None:
    """Plain-text help on every command (no rich boxes or type tags), wide when piped, top level in order."""
    command.rich_markup_mode = None
    _plain_parameters(command)
    if piped:
        command.context_settings = {**command.context_settings, "max_content_width": PIPED_HELP_WIDTH}
        command.context_settings.setdefault("terminal_width", PIPED_HELP_WIDTH)
    if isinstance(command, typer.core.TyperGroup):
        rank = {name: i for i, name in enumerate(COMMAND_ORDER if top else ())}
        names = sorted(command.commands, key=lambda n: (rank.get(n, len(rank)), list(command.commands).index(n)))
        command.commands = {name: command.commands[name] for name in names}
        for child in command.commands.values():
            if isinstance(child, (typer.core.TyperCommand, typer.core.TyperGroup)):
                prepare(child, top=False, piped=piped)


def run(app: typer.Typer, args: Sequence[str] | None = None, *, prog_name: str = "ledger") -> NoReturn:
    """Run ``app`` as a console script: every failure one line on stderr and an :class:`ExitCode`."""
    command = typer.main.get_command(app)
    if isinstance(command, (typer.core.TyperCommand, typer.core.TyperGroup)):
        prepare(command, piped=not sys.stdout.isatty())
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.Exit as done:  # the command chose its status (and printed its reason)
        sys.exit(done.exit_code)
    except NoArgsIsHelpError as shown:  # a group run without a command: its help, as click does
        typer.echo(shown.format_message())
        sys.exit(ExitCode.USAGE)
    except typer.Abort:
        typer.echo("ABORTED: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the one place every error becomes a line and an exit code
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        fail(describe(error))
    sys.exit(result if isinstance(result, int) else ExitCode.OK)
