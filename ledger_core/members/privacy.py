"""Crypto-shredding: personal data enters the log only sealed (AES-256-GCM) or as a salted commitment.

Every subject (a person) has its own data key in the :class:`~ledger_core.members.ports.KeyStore`; keys never
enter the log. A sealed value is ``{"sealed": {"alg": "A256GCM", "kid", "nonce", "ct"}}`` (base64url
without padding, as in JOSE) with AAD = ``subject || 0x1f || field``, so a ciphertext moved to another
person or field fails to open. A commitment is ``{"commitment": hex(HMAC-SHA256(key, field || 0x1f ||
value))}``: it lets equal values be recognized while the key exists and becomes unlinkable once it is
destroyed. :meth:`PersonalDataVault.erase` destroys the keys; every log entry (and every proof) stays
intact while the plaintext is gone for good.

:func:`check_sealed` and :func:`check_commitment` validate shapes without keys: aggregates use them to
accept personal fields they never read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.errors import PersonalDataErased, SealedValueInvalid
from ledger_core.members.ports import BatchKeyStore, KeyStore, SubjectKeys

SealedFields = tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]
"""``(sealed value by field, commitment by field)`` of one subject."""


class SealedBatch(NamedTuple):
    """What :meth:`PersonalDataVault.seal_batch` returns."""

    fields: dict[str, SealedFields]
    """The sealed fields by subject; erased subjects are left out."""
    new_keys: frozenset[str]
    """The subjects whose key was created by this call: nothing of theirs was sealed before it (a member
    registers only with its key, so no member of such a subject exists yet). Empty when the key store
    cannot tell (not a :class:`~ledger_core.members.ports.BatchKeyStore`)."""


ALGORITHM = "A256GCM"
NONCE_BYTES = 12
MAX_PLAINTEXT_BYTES = 4096
_SEPARATOR = "\x1f"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SEALED_KEYS = frozenset({"alg", "kid", "nonce", "ct"})
_COMMITMENT_KEYS = frozenset({"commitment"})


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_NONCE_TEXT = NONCE_BYTES * 4 // 3
"""Characters of one nonce in unpadded base64url (12 bytes are 4 whole 3-byte quanta: 16 characters)."""


def _b64encode(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 §5), as JOSE writes it."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _decoded_size(text: str) -> int:
    """The number of bytes unpadded base64url ``text`` decodes to (its length mod 4 is not 1)."""
    return len(text) * 3 // 4


def _check_label(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or _SEPARATOR in value:
        raise InvalidCommand(f"{name} must be a non-empty string without U+001F", field=name)
    return value


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, answered at once for a plain dict (the ABC check costs more)."""
    return type(value) is dict or isinstance(value, Mapping)


def check_sealed(value: Any, field: str) -> dict[str, Any]:
    """Return a copy of ``value`` if it has the sealed-value shape, else raise :class:`InvalidCommand`."""
    inner = value.get("sealed") if _is_mapping(value) and len(value) == 1 else None
    if not _is_mapping(inner) or inner.keys() != _SEALED_KEYS:
        raise InvalidCommand(f"{field} must be a sealed value", field=field)
    if inner["alg"] != ALGORITHM or not isinstance(inner["kid"], str) or not inner["kid"]:
        raise InvalidCommand(f"{field} must be sealed with {ALGORITHM} under a key id", field=field)
    for part in ("nonce", "ct"):
        if not isinstance(inner[part], str) or not _B64URL.fullmatch(inner[part]) or len(inner[part]) % 4 == 1:
            raise InvalidCommand(f"{field}.{part} must be base64url", field=field)
    # Unpadded base64url of n bytes has ceil(4n / 3) characters: the decoded sizes without decoding.
    if _decoded_size(inner["nonce"]) != NONCE_BYTES or _decoded_size(inner["ct"]) < 16:
        raise InvalidCommand(f"{field} has a malformed nonce or ciphertext", field=field)
    return {"sealed": dict(inner)}


def check_commitment(value: Any, field: str) -> dict[str, str]:
    """Return a copy of ``value`` if it is ``{"commitment": <64 lowercase hex>}``."""
    if (
        not _is_mapping(value)
        or value.keys() != _COMMITMENT_KEYS
        or not isinstance(value["commitment"], str)
        or not _HEX64.fullmatch(value["commitment"])
    ):
        raise InvalidCommand(f"{field} must be a commitment", field=field)
    return {"commitment": value["commitment"]}


_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


class HmacSha256:
    """HMAC-SHA256 under one key for many messages (RFC 2104 §2): the key's inner and outer padded blocks are
    hashed once, each message then costs two SHA-256 state copies. The same MAC as
    ``hmac.digest(key, message, "sha256")``, without the per-call setup OpenSSL's HMAC does."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # a key longer than SHA-256's block is hashed first (RFC 2104 §2)
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(block.translate(_INNER_PAD))
        self._outer = hashlib.sha256(block.translate(_OUTER_PAD))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class PersonalDataVault:
    """Seals, opens and commits personal data under per-subject keys from a :class:`KeyStore`."""

    def __init__(self, key_store: KeyStore) -> None:
        self._keys = key_store

    def seal(self, subject: str, field: str, plaintext: str) -> dict[str, Any]:
        """Encrypt ``plaintext`` for ``(subject, field)`` under the subject's key (created on first use)."""
        aad = self._aad(subject, field)
        data = self._plaintext_bytes(plaintext, field)
        key_id, key = self._keys.get_or_create(subject)
        return self._seal(key_id, key, aad, data)

    def seal_fields(
        self, subject: str, values: Mapping[str, str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
        """:meth:`seal` and :meth:`commit` every ``field -> plaintext`` of one subject with ONE key lookup.

        Returns ``(sealed by field, commitment by field)``; the results are those of the single calls.
        """
        checked = {
            field: (self._aad(subject, field), self._plaintext_bytes(value, field)) for field, value in values.items()
        }
        key_id, key = self._keys.get_or_create(subject)
        sealed = {field: self._seal(key_id, key, aad, data) for field, (aad, data) in checked.items()}
        commitments = {field: self._commit(key, field, data) for field, (_, data) in checked.items()}
        return sealed, commitments

    def seal_many(self, values: Mapping[str, Mapping[str, str]]) -> dict[str, SealedFields]:
        """:meth:`seal_batch`'s sealed fields."""
        return self.seal_batch(values).fields

    def seal_batch(self, values: Mapping[str, Mapping[str, str]]) -> SealedBatch:
        """:meth:`seal_fields` for many subjects (``subject -> field -> plaintext``) with ONE key-store call
        when the store is a :class:`BatchKeyStore`. Erased subjects are left out of the result.

        The bulk path's costs, paid once instead of per value: each distinct field label is checked once
        per call, one read of the OS's CSPRNG gives every nonce of the batch (12 fresh random bytes per
        value, as ``os.urandom`` per value would), and per subject one ``AESGCM`` object and one
        :class:`HmacSha256` (the RFC 2104 pads hashed once) serve all of its fields.
        """
        labels: dict[str, tuple[str, bytes]] = {}  # field -> (AAD suffix, commitment prefix), checked once
        checked: dict[str, list[tuple[str, bytes, bytes, bytes]]] = {}  # subject -> (field, aad, prefix, data)
        for subject, plaintexts in values.items():
            head = _check_label(subject, "subject") + _SEPARATOR  # the AAD of :meth:`_aad`, subject checked once
            fields = checked[subject] = []
            for field, value in plaintexts.items():
                label = labels.get(field)
                if label is None:
                    label = labels[field] = (_check_label(field, "field"), (field + _SEPARATOR).encode("utf-8"))
                fields.append((field, (head + label[0]).encode("utf-8"), label[1], self._plaintext_bytes(value, field)))
        keys, new_keys = self._keys_of(list(checked))
        nonces = os.urandom(NONCE_BYTES * sum(len(fields) for fields in checked.values()))
        # 12-byte nonces are whole base64 quanta: the pool's encoding, cut every 16 characters, is each one's
        nonce_texts = _b64encode(nonces)
        offset = 0
        result: dict[str, SealedFields] = {}
        for subject, fields in checked.items():
            found = keys.get(subject)
            if found is None:
                offset += len(fields)
                continue
            key_id, key = found
            encrypt = AESGCM(key).encrypt
            mac = HmacSha256(key)
            sealed: dict[str, dict[str, Any]] = {}
            commitments: dict[str, dict[str, str]] = {}
            for field, aad, prefix, data in fields:
                nonce = nonces[offset * NONCE_BYTES : (offset + 1) * NONCE_BYTES]
                nonce_text = nonce_texts[offset * _NONCE_TEXT : (offset + 1) * _NONCE_TEXT]
                offset += 1
                sealed[field] = {
                    "sealed": {
                        "alg": ALGORITHM,
                        "kid": key_id,
                        "nonce": nonce_text,
                        "ct": _b64encode(encrypt(nonce, data, aad)),
                    }
                }
                commitments[field] = {"commitment": mac.hexdigest(prefix + data)}
            result[subject] = (sealed, commitments)
        return SealedBatch(result, new_keys)

    def _keys_of(self, subjects: list[str]) -> SubjectKeys:
        """The subjects' keys, created if missing (one call to a :class:`BatchKeyStore`); erased ones left out."""
        if isinstance(self._keys, BatchKeyStore):
            return self._keys.get_or_create_many(subjects)
        keys = {}
        for subject in subjects:
            try:
                keys[subject] = self._keys.get_or_create(subject)
            except PersonalDataErased:
                continue
        return SubjectKeys(keys, frozenset())

    @staticmethod
    def _seal(key_id: str, key: bytes, aad: bytes, data: bytes) -> dict[str, Any]:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, data, aad)
        return {"sealed": {"alg": ALGORITHM, "kid": key_id, "nonce": _b64encode(nonce), "ct": _b64encode(ciphertext)}}

    @staticmethod
    def _commit(key: bytes, field: str, data: bytes) -> dict[str, str]:
        return {"commitment": hmac.digest(key, field.encode("utf-8") + b"\x1f" + data, "sha256").hex()}

    def open(self, subject: str, field: str, sealed: Mapping[str, Any]) -> str:
        """Decrypt a value sealed for ``(subject, field)``.

        Raises :class:`PersonalDataErased` when the key was destroyed and :class:`SealedValueInvalid`
        when the value was altered or belongs to another subject or field.
        """
        aad = self._aad(subject, field)
        inner = check_sealed(sealed, field)["sealed"]
        key = self._keys.get(inner["kid"])
        if key is None:
            raise PersonalDataErased(subject)
        try:
            data = AESGCM(key).decrypt(_b64decode(inner["nonce"]), _b64decode(inner["ct"]), aad)
        except (InvalidTag, binascii.Error, ValueError):
            raise SealedValueInvalid(subject, field) from None
        return data.decode("utf-8")

    def commit(self, subject: str, field: str, value: str) -> dict[str, str]:
        """A salted commitment to ``value``: HMAC-SHA256(subject key, field || 0x1f || value)."""
        _check_label(subject, "subject")
        _check_label(field, "field")
        data = self._plaintext_bytes(value, field)
        _, key = self._keys.get_or_create(subject)
        return self._commit(key, field, data)

    def erase(self, subject: str) -> int:
        """Destroy every key of ``subject`` (crypto-shredding); return how many keys were destroyed."""
        return self._keys.destroy(_check_label(subject, "subject"))

    @staticmethod
    def _aad(subject: str, field: str) -> bytes:
        return (_check_label(subject, "subject") + _SEPARATOR + _check_label(field, "field")).encode("utf-8")

    @staticmethod
    def _plaintext_bytes(value: Any, field: str) -> bytes:
        if not isinstance(value, str):
            raise InvalidCommand(f"{field} must be a string", field=field)
        data = value.encode("utf-8")
        if len(data) > MAX_PLAINTEXT_BYTES:
            raise InvalidCommand(f"{field} exceeds {MAX_PLAINTEXT_BYTES} bytes", field=field)
        return data
