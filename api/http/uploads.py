"""Document uploads, hashed while they stream in: a raw body or one ``multipart/form-data`` file part.

The ledger never keeps document bytes, only their SHA-256 and declared attributes. A digester is fed
the request body chunk by chunk (:meth:`Digester.feed`) and hashes the document as it passes:

* **raw**: the body *is* the document; its media type is the request's ``Content-Type`` (parameters
  such as ``;charset=`` dropped); ``type`` and ``metadata`` come from the query string.
* **multipart**: the part named ``file`` is the document (its own ``Content-Type`` is the media type);
  small text parts ``type`` and ``metadata`` (a JSON object of strings) may accompany it.

Text parts are capped at 16 KiB and the number of parts at 8, so nothing but the file can be large.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

import multipart  # type: ignore[import-untyped]  # litestar's own multipart dependency; no type hints

from api.http.errors import ApiError

MAX_FIELD_BYTES = 16_384
MAX_PARTS = 8
FILE_FIELD = "file"


@dataclass(frozen=True, slots=True)
class Upload:
    """What an upload carried: the document's hash, size and media type, and the form's text fields."""

    sha256: str
    size: int
    media_type: str
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None


class Digester(Protocol):
    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> Upload: ...


def media_type_of(content_type: str | None) -> str:
    """``type/subtype`` of a Content-Type header, lower-cased, without parameters."""
    return (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()


class RawDigester:
    """The whole body is the document."""

    def __init__(self, content_type: str | None) -> None:
        self._hash = hashlib.sha256()
        self._size = 0
        self._media_type = media_type_of(content_type)

    def feed(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._size += len(chunk)

    def finish(self) -> Upload:
        return Upload(self._hash.hexdigest(), self._size, self._media_type)


class MultipartDigester:
    """One ``file`` part hashed as it streams, plus small text fields."""

    def __init__(self, content_type: str) -> None:
        _, options = multipart.parse_options_header(content_type)
        boundary = options.get("boundary")
        if not boundary:
            raise ApiError("VALIDATION_ERROR", "multipart/form-data needs a boundary", field="Content-Type")
        self._parser = multipart.PushMultipartParser(
            boundary, max_segment_count=MAX_PARTS, max_header_count=8, strict=False
        )
        self._segment: multipart.MultipartSegment | None = None
        self._buffer = bytearray()
        self._hash: hashlib._Hash | None = None
        self._file: Upload | None = None
        self._fields: dict[str, str] = {}

    def feed(self, chunk: bytes) -> None:
        try:
            for event in self._parser.parse(chunk):
                self._event(event)
        except multipart.MultipartError as error:
            raise ApiError("VALIDATION_ERROR", f"malformed multipart body: {error}", field="body") from None

    def _event(self, event: object) -> None:
        if isinstance(event, multipart.MultipartSegment):
            self._segment, self._buffer = event, bytearray()
            if event.name == FILE_FIELD:
                if self._hash is not None or self._file is not None:
                    raise ApiError("VALIDATION_ERROR", "exactly one file part is allowed", field=FILE_FIELD)
                self._hash = hashlib.sha256()
        elif isinstance(event, bytes | bytearray):
            if self._segment is not None and self._segment.name == FILE_FIELD and self._hash is not None:
                self._hash.update(event)
            else:
                self._buffer += event
                if len(self._buffer) > MAX_FIELD_BYTES:
                    raise ApiError("VALIDATION_ERROR", "form fields are limited to 16 KiB", field="body")
        elif event is None and self._segment is not None:
            self._close_segment(self._segment)

    def _close_segment(self, segment: multipart.MultipartSegment) -> None:
        if segment.name == FILE_FIELD and self._hash is not None:
            media = media_type_of(segment.content_type)
            self._file = Upload(self._hash.hexdigest(), int(segment.size), media, filename=segment.filename)
            self._hash = None
        else:
            try:
                self._fields[str(segment.name)] = self._buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError("VALIDATION_ERROR", "form fields must be UTF-8", field=str(segment.name)) from None
        self._segment = None

    def finish(self) -> Upload:
        self.feed(b"")
        try:
            self._parser.close()
        except multipart.MultipartError as error:
            raise ApiError("VALIDATION_ERROR", f"incomplete multipart body: {error}", field="body") from None
        if self._file is None:
            raise ApiError("VALIDATION_ERROR", "a multipart upload needs a part named 'file'", field=FILE_FIELD)
        return Upload(self._file.sha256, self._file.size, self._file.media_type, self._fields, self._file.filename)


def digester_for(content_type: str | None) -> Digester:
    """A multipart digester for ``multipart/form-data``, else a raw one."""
    if media_type_of(content_type) == "multipart/form-data":
        assert content_type is not None  # narrowed by the media type; not a business rule
        return MultipartDigester(content_type)
    return RawDigester(content_type)
