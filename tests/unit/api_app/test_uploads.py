"""Uploads are hashed as they stream in: raw bodies and multipart file parts, in chunks of any size."""

from __future__ import annotations

import hashlib

import pytest

from api.http.errors import ApiError
from api.http.uploads import Upload, digester_for, media_type_of

CONTENT = bytes(range(256)) * 40


def multipart(*parts: bytes, boundary: str = "XyZ") -> bytes:
    return (
        b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
        + f"--{boundary}--\r\n".encode()
    )


def file_part(content: bytes = CONTENT, media: str = "image/png") -> bytes:
    return (
        b'Content-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: '
        + media.encode()
        + b"\r\n\r\n"
        + content
    )


def field(name: str, value: str) -> bytes:
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode()


def feed(content_type: str, body: bytes, chunk: int) -> Upload:
    digester = digester_for(content_type)
    for start in range(0, len(body), chunk):
        digester.feed(body[start : start + chunk])
    return digester.finish()


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_raw_body_is_the_document(chunk: int) -> None:
    """A raw upload's hash, size and media type (parameters dropped) whatever the chunking."""
    upload = feed("Image/JPEG; charset=binary", CONTENT, chunk)
    assert upload.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert (upload.size, upload.media_type) == (len(CONTENT), "image/jpeg")


@pytest.mark.parametrize("chunk", [1, 13, 65536])
def test_multipart_file_part_is_hashed_and_fields_kept(chunk: int) -> None:
    """The ``file`` part is hashed while it streams; ``type`` and ``metadata`` fields are returned."""
    body = multipart(field("type", "photo"), file_part(), field("metadata", '{"a":"b"}'))
    upload = feed("multipart/form-data; boundary=XyZ", body, chunk)
    assert upload.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert upload.size == len(CONTENT)
    assert upload.media_type == "image/png"
    assert upload.fields == {"type": "photo", "metadata": '{"a":"b"}'}


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", b"", "boundary"),
        ("multipart/form-data; boundary=XyZ", multipart(field("type", "photo")), "part named 'file'"),
        ("multipart/form-data; boundary=XyZ", multipart(file_part(), file_part()), "exactly one file"),
        ("multipart/form-data; boundary=XyZ", multipart(field("type", "x" * 20_000), file_part()), "16 KiB"),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\ngarbage", "multipart"),
    ],
)
def test_malformed_multipart_is_a_validation_error(content_type: str, body: bytes, message: str) -> None:
    """Missing boundary, no file, two files, oversized fields and truncation are 400s."""
    with pytest.raises(ApiError, match=message) as error:
        feed(content_type, body, 5)
    assert error.value.code == "VALIDATION_ERROR"


def test_media_type_defaults_to_octet_stream() -> None:
    """No Content-Type means application/octet-stream."""
    assert media_type_of(None) == "application/octet-stream"
