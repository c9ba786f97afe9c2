"""Per-partner batch-feed settings and keys, as files under ``<data dir>/feeds/`` (all 0600).

::

    feeds/partners/<partner_id>/config.json        FeedPartnerConfig (remote password wrapped, never plain;
                                                   a GCS bucket by name only: credentials stay Google's)
    feeds/partners/<partner_id>/authorized_keys    SSH public keys the partner logs in with (OpenSSH format)
    feeds/partners/<partner_id>/partner.pgp        the partner's OpenPGP certificate (public)
    feeds/partners/<partner_id>/client_key         our SSH private key for the partner's own server
    feeds/pgp/ours.key.wrapped                     our OpenPGP secret key, AES-256-GCM under the master key

Secrets at rest: the client key file is 0600 (OpenSSH reads keys that way); the remote password and our
OpenPGP secret key are wrapped with the master key (a :class:`adapters.ports.KeyWrapping`, in practice
:class:`adapters.files.master_key.KeyWrapper`), so a copy of the directory without ``master.key`` (or
``LEDGER_MASTER_KEY``) holds neither.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

from adapters.feed_exchange import FeedPartnerConfig, GcsBucket, RemoteServer
from adapters.files.private_files import replace_private_file
from adapters.ports import KeyWrapping
from ledger_core.engine.errors import NotFound
from ledger_core.shared.validation import check_partner_slug

FEEDS_DIR = "feeds"
_OUR_PGP_KEY_ID = "feeds-openpgp-secret-key"
_PASSWORD_KEY_ID = "feeds-sftp-password:"  # noqa: S105 - the AAD label of a wrapped password, not a password

__all__ = ["FEEDS_DIR", "FeedKeyFiles"]


class FeedKeyFiles:
    """The owner of ``<data dir>/feeds/partners/`` and ``<data dir>/feeds/pgp/``."""

    def __init__(self, data_dir: Path, wrapper: KeyWrapping) -> None:
        self.root = data_dir / FEEDS_DIR
        self._wrapper = wrapper

    def _partner_dir(self, partner_id: str) -> Path:
        return self.root / "partners" / check_partner_slug(partner_id)

    # -- configuration -------------------------------------------------------------------------------
    def partner_ids(self) -> list[str]:
        """Partners with feed settings, sorted."""
        base = self.root / "partners"
        return sorted(p.name for p in base.iterdir() if (p / "config.json").exists()) if base.exists() else []

    def config(self, partner_id: str) -> FeedPartnerConfig:
        """The partner's feed settings (NotFound when the partner has none)."""
        path = self._partner_dir(partner_id) / "config.json"
        if not path.exists():
            raise NotFound("feed partner", partner_id)
        return FeedPartnerConfig.from_json(json.loads(path.read_bytes()))

    def config_or_new(self, partner_id: str) -> FeedPartnerConfig:
        try:
            return self.config(partner_id)
        except NotFound:
            return FeedPartnerConfig(partner_id=check_partner_slug(partner_id))

    def save(self, config: FeedPartnerConfig) -> None:
        path = self._partner_dir(config.partner_id) / "config.json"
        replace_private_file(path, json.dumps(config.to_json(), indent=2, sort_keys=True).encode())

    def set_remote(self, config: FeedPartnerConfig, remote: RemoteServer, password: str | None) -> FeedPartnerConfig:
        """``config`` with ``remote`` (its password wrapped under the master key), saved."""
        wrapped = None
        if password is not None:
            key_id = _PASSWORD_KEY_ID + config.partner_id
            wrapped = base64.b64encode(self._wrapper.wrap(key_id, password.encode())).decode()
        updated = replace(config, remote=replace(remote, wrapped_password=wrapped), gcs=None)
        self.save(updated)
        return updated

    def set_gcs(self, config: FeedPartnerConfig, bucket: GcsBucket | None) -> FeedPartnerConfig:
        """``config`` exchanging through ``bucket`` (None: no bucket), saved; one transport per partner, so a
        bucket replaces a partner-hosted SFTP server (``remote``). No credential is stored (see GcsBucket)."""
        updated = replace(config, gcs=bucket, remote=None if bucket is not None else config.remote)
        self.save(updated)
        return updated

    def remote_password(self, config: FeedPartnerConfig) -> str | None:
        if config.remote is None or config.remote.wrapped_password is None:
            return None
        wrapped = base64.b64decode(config.remote.wrapped_password)
        return self._wrapper.unwrap(_PASSWORD_KEY_ID + config.partner_id, wrapped).decode()

    # -- SSH -----------------------------------------------------------------------------------------
    def authorized_keys_path(self, partner_id: str) -> Path:
        return self._partner_dir(partner_id) / "authorized_keys"

    def add_ssh_key(self, partner_id: str, public_key_line: str) -> None:
        """Append one OpenSSH public key line to the partner's ``authorized_keys`` (kept once)."""
        self.save(self.config_or_new(partner_id))
        path = self.authorized_keys_path(partner_id)
        lines = path.read_text().splitlines() if path.exists() else []
        line = public_key_line.strip()
        if line not in lines:
            replace_private_file(path, ("\n".join([*lines, line]) + "\n").encode())

    def client_key_path(self, partner_id: str) -> Path:
        return self._partner_dir(partner_id) / "client_key"

    def set_client_key(self, partner_id: str, private_key: bytes) -> None:
        replace_private_file(self.client_key_path(partner_id), private_key)

    # -- OpenPGP -------------------------------------------------------------------------------------
    def partner_cert(self, partner_id: str) -> bytes | None:
        path = self._partner_dir(partner_id) / "partner.pgp"
        return path.read_bytes() if path.exists() else None

    def set_partner_cert(self, partner_id: str, cert: bytes) -> None:
        self.save(self.config_or_new(partner_id))
        replace_private_file(self._partner_dir(partner_id) / "partner.pgp", cert)

    def our_secret_key(self) -> bytes | None:
        """Our OpenPGP secret key (unwrapped in memory), or None before ``ledger feeds pgp generate``."""
        path = self.root / "pgp" / "ours.key.wrapped"
        if not path.exists():
            return None
        return self._wrapper.unwrap(_OUR_PGP_KEY_ID, path.read_bytes())

    def set_our_secret_key(self, secret_key: bytes) -> None:
        replace_private_file(self.root / "pgp" / "ours.key.wrapped", self._wrapper.wrap(_OUR_PGP_KEY_ID, secret_key))
