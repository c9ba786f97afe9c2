"""Run ``ledger`` in this process exactly as its console script does, for tests that would otherwise pay a
subprocess (and the CLI's import, ~1.7 s of CPU) per command.

:func:`ledger_in_process` calls :func:`api.cli.errors.run` with :data:`api.cli.main.app`, the very call
``main()`` makes, so every failure goes through the same mapping to one stderr line and an exit code. stdout
and stderr are captured (not terminals: help is printed as when piped), the working directory and the
``LEDGER_*`` environment are the ones given (restored afterwards, with the root logger), and the
``SystemExit`` that ``run`` always ends with becomes the return code. The result is a
:class:`subprocess.CompletedProcess`, so assertions written for the real console script apply unchanged;
tests keep a few real subprocesses to prove the installed script agrees.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def _root_logger_kept() -> Iterator[None]:
    """The root logger's handlers and level as they were (``webhooks run`` calls ``logging.basicConfig``)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` without any ``LEDGER_*`` variable but those of ``env``; restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in [name for name in os.environ if name.startswith("LEDGER_")]:
            del os.environ[name]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def ledger_in_process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``ledger ARGS`` run in this process from ``cwd``: its exit code, stdout and stderr."""
    from api.cli.errors import run
    from api.cli.main import app

    stdout, stderr = io.StringIO(), io.StringIO()
    code: int | str | None = None
    with (
        _environment(env or {}),
        _root_logger_kept(),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            run(app, list(args))
        except SystemExit as done:  # run() always ends with sys.exit(code), as the console script does
            code = done.code
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["ledger", *args], returncode, stdout.getvalue(), stderr.getvalue())
