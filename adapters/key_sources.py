"""Keys apart from data (issue 18, item 11): a PostgreSQL deployment names where its secrets come from.

The embedded SQLite default keeps ``checkpoint.key`` and ``master.key`` in its data directory, so a
developer's ``make serve`` needs no setup. A PostgreSQL deployment is a server deployment: a process that
signs checkpoints (``ledger sealer``, ``ledger serve`` with its embedded sealer) must be given the signing
key, and every process that opens the ledger the master key, explicitly (docs/deployment.md):

* checkpoint signing key: ``--signing-key PATH`` / ``LEDGER_SIGNING_KEY`` (settings),
  ``LEDGER_SIGNING_KEY_FILE`` (a path, e.g. a ``/run/secrets/...`` mount) or ``LEDGER_SIGNING_KEY_FD``;
* master key: ``LEDGER_MASTER_KEY`` (base64), ``LEDGER_MASTER_KEY_FILE`` or ``LEDGER_MASTER_KEY_FD``.

An API host that does not seal needs no signing key at all (it publishes ``LEDGER_VKEY``), and
``ledger sealer`` needs no master key (it reads entries, never member data).
"""

from __future__ import annotations

from pathlib import Path

from adapters.files.master_key import MASTER_KEY_ENV, MASTER_KEY_FD_ENV, MASTER_KEY_FILE_ENV, master_key_configured
from adapters.files.signing_key import SIGNING_KEY_ENV, SIGNING_KEY_FD_ENV, signing_key_path
from adapters.storage import Backend, StorageConfig
from ledger_core.engine.errors import LedgerError

SIGNING_KEY_OPTIONS = f"--signing-key PATH, {SIGNING_KEY_ENV}=PATH or {SIGNING_KEY_FD_ENV}=N"
MASTER_KEY_OPTIONS = f"{MASTER_KEY_ENV} (base64), {MASTER_KEY_FILE_ENV}=PATH or {MASTER_KEY_FD_ENV}=N"


class KeysNotConfigured(LedgerError):
    """A PostgreSQL deployment started without naming its keys; ``details["missing"]`` lists which."""

    code = "KEYS_NOT_CONFIGURED"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "a PostgreSQL deployment keeps its keys apart from its data: give the "
            + "; and the ".join(missing)
            + " (a /run/secrets/... file, a file descriptor or the environment; docs/deployment.md)",
            missing=missing,
        )


def require_keys_apart(config: StorageConfig, signing_key: Path | None, *, signs: bool, unwraps: bool = True) -> None:
    """Refuse (:class:`KeysNotConfigured`) a PostgreSQL deployment whose signing key (when this process
    ``signs`` checkpoints) or master key (when it ``unwraps`` member keys, i.e. opens the ledger) would
    default to the data directory. SQLite: no requirement. The sealer alone needs no master key."""
    if config.backend is not Backend.POSTGRESQL:
        return
    missing = []
    if signs and not signing_key_path(config.data_dir, signing_key)[1]:
        missing.append(f"checkpoint signing key ({SIGNING_KEY_OPTIONS})")
    if unwraps and not master_key_configured():
        missing.append(f"master key ({MASTER_KEY_OPTIONS})")
    if missing:
        raise KeysNotConfigured(missing)
