"""The SFTP server partners upload eligibility files to and download our files from (seed 001 section 2.5).

* **Authentication**: SSH public keys only; the user name is the partner id and the keys are that
  partner's ``authorized_keys`` (``ledger feeds keys add``). No password, shell, exec, SCP, port or
  agent forwarding.
* **Confinement**: a partner's session is jailed in :meth:`FeedFolders.jail` and sees ``/inbound/<id>/``
  and ``/outbound/<id>/`` only. Every client path is normalised (``..`` cannot climb out) and resolved
  on disk (a symlink cannot lead out); creating links, directories or changing attributes is refused.
  Writes go to ``/inbound/<id>/<plain file name>`` only; removal to ``/outbound/<id>/`` only (files we
  wrote for the partner), so an upload is never deleted before it was read.
* **Completion**: an upload is complete when its write handle is closed; only then is its ready marker
  written (:meth:`FeedFolders.mark_ready`) and the worker woken. Re-opening the file for writing drops
  the marker first, so a half-written file is never taken. An upload over the size cap is refused
  mid-transfer and its partial file removed.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import asyncssh
from asyncssh import (
    ACE4_APPEND_DATA,
    ACE4_WRITE_DATA,
    FXF_APPEND,
    FXF_CREAT,
    FXF_TRUNC,
    FXF_WRITE,
    SFTPAttrs,
    SFTPFailure,
    SFTPNoSuchFile,
    SFTPPermissionDenied,
)

from adapters.feed_exchange import check_file_name
from adapters.feeds.folders import FeedFolders
from adapters.feeds.partner_files import FeedKeyFiles
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import check_partner_slug

log = logging.getLogger("adapters.feeds.sftp_server")
_WRITE_FLAGS = FXF_WRITE | FXF_APPEND | FXF_CREAT | FXF_TRUNC
_INBOUND, _OUTBOUND = b"inbound", b"outbound"

__all__ = ["SftpServerConfig", "UploadListener", "start_sftp_server"]

UploadListener = Callable[[str, str], None]
"""``listener(partner_id, file_name)``: called when an upload completed (its marker is written)."""


@dataclass(frozen=True, slots=True)
class SftpServerConfig:
    host: str
    port: int
    host_key: asyncssh.SSHKey
    max_upload_bytes: int


@dataclass(slots=True)
class _Upload:
    name: str
    local: bytes
    refused: bool = False


class _PartnerSSHServer(asyncssh.SSHServer):
    """Public-key authentication against the partner's ``authorized_keys``; nothing else."""

    def __init__(self, keys: FeedKeyFiles) -> None:
        self._keys = keys
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        if self._conn is None:  # asyncssh calls connection_made first
            return True
        try:
            path = self._keys.authorized_keys_path(check_partner_slug(username))
        except InvalidCommand:
            path = None
        if path is not None and path.exists():
            self._conn.set_authorized_keys(str(path))
        else:
            self._conn.set_authorized_keys(asyncssh.import_authorized_keys(""))
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


class ConfinedSFTPServer(asyncssh.SFTPServer):
    """One partner's SFTP session, jailed to its two folders."""

    def __init__(
        self, chan: asyncssh.SSHServerChannel[bytes], folders: FeedFolders, max_bytes: int, listener: UploadListener
    ) -> None:
        self.partner_id = check_partner_slug(str(chan.get_extra_info("username")))
        folders.ensure(self.partner_id)
        self._folders = folders
        self._max_bytes = max_bytes
        self._listener = listener
        self._uploads: dict[int, _Upload] = {}
        jail = folders.jail(self.partner_id)
        self._jail = os.fsencode(os.path.realpath(jail))
        self._pid = os.fsencode(self.partner_id)
        super().__init__(chan, chroot=os.fsencode(jail))

    # -- confinement ---------------------------------------------------------------------------------
    def _parts(self, local: bytes) -> list[bytes]:
        relative = local[len(self._jail) :].strip(b"/")
        return relative.split(b"/") if relative else []

    def map_path(self, path: bytes) -> bytes:
        """The jailed local path of a client path; refuses anything outside the partner's two folders."""
        local = super().map_path(path)
        if local != self._jail and not local.startswith(self._jail + b"/"):
            raise SFTPPermissionDenied("outside your folders")
        parts = self._parts(local)
        if parts and (parts[0] not in (_INBOUND, _OUTBOUND) or (len(parts) > 1 and parts[1] != self._pid)):
            raise SFTPNoSuchFile("no such file")
        real = os.fsencode(os.path.realpath(local))
        if real != self._jail and not real.startswith(self._jail + b"/"):
            raise SFTPPermissionDenied("a link leads outside your folders")
        return local

    def _file_in(self, path: bytes, folder: bytes) -> tuple[bytes, str]:
        """(local path, name) of a plain file directly in ``/<folder>/<partner>/``, else permission denied."""
        local = self.map_path(path)
        parts = self._parts(local)
        if len(parts) != 3 or parts[0] != folder:
            raise SFTPPermissionDenied(f"files can only be written in /{folder.decode()}/{self.partner_id}/")
        try:
            name = check_file_name(os.fsdecode(parts[2]))
        except InvalidCommand:
            raise SFTPPermissionDenied("not an allowed file name") from None
        return local, name

    # -- uploads -------------------------------------------------------------------------------------
    def _begin(self, path: bytes, writing: bool) -> _Upload | None:
        if not writing:
            return None
        local, name = self._file_in(path, _INBOUND)
        if os.path.islink(local):
            raise SFTPPermissionDenied("not a regular file")
        self._folders.unmark(self.partner_id, name)
        return _Upload(name, local)

    def _opened(self, upload: _Upload | None, file_obj: object) -> object:
        if upload is not None:
            self._uploads[id(file_obj)] = upload
        return file_obj

    def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> object:
        upload = self._begin(path, bool(pflags & _WRITE_FLAGS))
        return self._opened(upload, super().open(path, pflags, attrs))

    def open56(self, path: bytes, desired_access: int, flags: int, attrs: SFTPAttrs) -> object:
        upload = self._begin(path, bool(desired_access & (ACE4_WRITE_DATA | ACE4_APPEND_DATA)))
        return self._opened(upload, super().open56(path, desired_access, flags, attrs))

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        upload = self._uploads.get(id(file_obj))
        if upload is not None and offset + len(data) > self._max_bytes:
            upload.refused = True
            raise SFTPFailure(f"upload larger than the {self._max_bytes}-byte cap")
        return int(super().write(file_obj, offset, data))  # type: ignore[arg-type]

    def close(self, file_obj: object) -> None:
        super().close(file_obj)
        upload = self._uploads.pop(id(file_obj), None)
        if upload is None:
            return
        if upload.refused:
            os.unlink(upload.local)
            log.warning("refused upload removed", extra={"partner": self.partner_id, "file": upload.name})
            return
        self._folders.mark_ready(self.partner_id, upload.name)
        self._listener(self.partner_id, upload.name)

    def exit(self) -> None:
        for upload in self._uploads.values():  # the session ended mid-upload: never complete
            if upload.refused:
                os.unlink(upload.local)
        self._uploads.clear()
        super().exit()

    # -- everything that could escape or destroy an unread upload ------------------------------------
    def remove(self, path: bytes) -> None:
        local, _ = self._file_in(path, _OUTBOUND)
        os.unlink(local)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, old_name = self._file_in(oldpath, _INBOUND)
        new, new_name = self._file_in(newpath, _INBOUND)
        if os.path.exists(new):
            raise SFTPFailure("target exists")
        os.rename(old, new)
        self._folders.unmark(self.partner_id, old_name)
        self._folders.mark_ready(self.partner_id, new_name)
        self._listener(self.partner_id, new_name)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self.rename(oldpath, newpath)

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPPermissionDenied("links are not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPPermissionDenied("links are not allowed")

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        raise SFTPPermissionDenied("directories are fixed")

    def rmdir(self, path: bytes) -> None:
        raise SFTPPermissionDenied("directories are fixed")

    def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        self._file_in(path, _INBOUND)  # times/permissions of one's own upload only (clients' put -p)
        super().setstat(path, _times_only(attrs))

    def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        raise SFTPPermissionDenied("not allowed")

    def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        super().fsetstat(file_obj, _times_only(attrs))

    def readlink(self, path: bytes) -> bytes:
        raise SFTPNoSuchFile("no links here")


def _times_only(attrs: SFTPAttrs) -> SFTPAttrs:
    """Access and modification times only: a partner never changes size, owner or permissions by setstat."""
    return SFTPAttrs(atime=attrs.atime, mtime=attrs.mtime)


async def start_sftp_server(
    config: SftpServerConfig, folders: FeedFolders, keys: FeedKeyFiles, listener: UploadListener
) -> asyncssh.SSHAcceptor:
    """Listen on ``config.host:config.port`` (port 0: any free one; read it with ``acceptor.get_port()``)."""

    def sftp_factory(chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return ConfinedSFTPServer(chan, folders, config.max_upload_bytes, listener)

    try:
        return await asyncssh.listen(
            config.host,
            config.port,
            server_host_keys=[config.host_key],
            server_factory=lambda: _PartnerSSHServer(keys),
            sftp_factory=sftp_factory,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_pty=False,
            line_editor=False,
        )
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise InvalidCommand(f"{config.host}:{config.port} is already in use", field="sftp_port") from error
        raise
