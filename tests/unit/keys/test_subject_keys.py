"""Fresh subject data keys: one at a time or a batch from one CSPRNG read, in the same form."""

from __future__ import annotations

import re
import time
import uuid

from adapters.ports import new_subject_key, new_subject_keys

KEY_ID = re.compile(r"k_[0-9a-f]{32}")


def test_batch_keys_have_the_single_keys_form() -> None:
    """Key ids are ``k_`` + the hex of a version-7 UUID (RFC 9562 §5.7, RFC variant) made now, keys 32 bytes,
    all distinct."""
    before = time.time_ns() // 1_000_000
    keys = [new_subject_key(), *new_subject_keys(500)]
    after = time.time_ns() // 1_000_000
    assert len(keys) == 501
    for key_id, key in keys:
        assert KEY_ID.fullmatch(key_id)
        parsed = uuid.UUID(hex=key_id[2:])
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert before <= parsed.int >> 80 <= after
        assert len(key) == 32
    assert len({key_id for key_id, _ in keys}) == len({key for _, key in keys}) == 501
    assert new_subject_keys(0) == []


def test_key_ids_of_later_batches_sort_after_earlier_ones() -> None:
    """Time-ordered ids: a key store's index on them grows at its right edge."""
    first = new_subject_keys(50)
    time.sleep(0.002)
    second = new_subject_keys(50)
    assert max(key_id for key_id, _ in first) < min(key_id for key_id, _ in second)


def test_the_random_bits_vary() -> None:
    """Within one millisecond the ids differ in their 74 random bits, not only in a counter."""
    ids = [uuid.UUID(hex=key_id[2:]).int for key_id, _ in new_subject_keys(200)]
    random_parts = {value & ((1 << 62) - 1) for value in ids}
    assert len(random_parts) == 200
    assert len({(value >> 64) & 0xFFF for value in ids}) > 100
