"""Fresh subject data keys: one at a time or a batch from one CSPRNG read, in the same form."""

from __future__ import annotations

import re
import uuid

from adapters.ports import new_subject_key, new_subject_keys

KEY_ID = re.compile(r"k_[0-9a-f]{32}")


def test_batch_keys_have_the_single_keys_form() -> None:
    """Key ids are ``k_`` + the hex of a random version-4 UUID (RFC 4122 variant), keys 32 bytes, all distinct."""
    keys = [new_subject_key(), *new_subject_keys(500)]
    assert len(keys) == 501
    for key_id, key in keys:
        assert KEY_ID.fullmatch(key_id)
        parsed = uuid.UUID(hex=key_id[2:])
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert len(key) == 32
    assert len({key_id for key_id, _ in keys}) == len({key for _, key in keys}) == 501
    assert new_subject_keys(0) == []
