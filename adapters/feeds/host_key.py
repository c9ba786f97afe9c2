"""The SFTP server's SSH host key: Ed25519, OpenSSH format, ``<data dir>/ssh_host_ed25519_key`` (0600).

Created by ``ledger init`` (or the first ``ledger sftp serve``), atomically like every key file
(:mod:`adapters.files.private_files`). Partners pin its public half (``ledger sftp host-key`` prints it in
``known_hosts`` form), so it is never regenerated while the file exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from adapters.files.private_files import ensure_private_file

if TYPE_CHECKING:
    import asyncssh

HOST_KEY_FILE = "ssh_host_ed25519_key"

__all__ = ["HOST_KEY_FILE", "ensure_host_key"]


def ensure_host_key(data_dir: Path) -> asyncssh.SSHKey:
    """The host key of ``data_dir``, created on first use (asyncssh is imported here, by the commands needing
    the key, not by every ``ledger`` command)."""
    from adapters.feeds import quiet_asyncssh

    quiet_asyncssh()
    import asyncssh  # already imported, quietly

    text = ensure_private_file(
        data_dir / HOST_KEY_FILE, lambda: asyncssh.generate_private_key("ssh-ed25519").export_private_key()
    )
    return asyncssh.import_private_key(text)
