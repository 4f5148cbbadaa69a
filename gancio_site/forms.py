"""Gancio's event form: how ``POST``/``PUT /api/event`` want their fields encoded.

Pure functions, no network: ``api.py`` sends what these build. The rules come from the real
server (API.md section 5) and case B13: lists as repeated ``name[]`` fields, ``recurrent``
as one JSON text field, times as unix seconds, ``image_url`` percent-encoded, and
``multipart/form-data`` as the only encoding that carries an image.
"""

from __future__ import annotations

import json
import mimetypes
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

FieldValue = str | int | float | bool | datetime | Sequence[str] | Mapping[str, Any] | None
Fields = Mapping[str, FieldValue]
ImageArg = str | os.PathLike[str] | tuple[str, bytes, str] | None
Part = tuple[str, str, str, bytes]  # field, filename, content type, bytes


def encode_fields(fields: Fields) -> list[tuple[str, str]]:
    """Return ``fields`` as the form pairs Gancio's ``POST``/``PUT /api/event`` expects.

    Lists become repeated ``name[]`` pairs, so one tag is still an array (a lone ``tags``
    is a string and answers 400 "tags field must be an array" after creating the event:
    API.md section 5, case B13); a mapping becomes one JSON text field (``recurrent``:
    bracketed sub-fields answer 400); booleans are ``true``/``false``; datetimes are unix
    seconds; ``None`` leaves the field out. ``image_url`` is percent-encoded, because Gancio
    downloads it as given and a raw non-ASCII path gets 404 (B13).
    """
    pairs: list[tuple[str, str]] = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            key = name if name.endswith("[]") else f"{name}[]"
            pairs += [(key, str(item)) for item in value]
        elif isinstance(value, Mapping):
            pairs.append((name, json.dumps(value, ensure_ascii=False, separators=(",", ":"))))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{name}: a datetime without a time zone is ambiguous")
            pairs.append((name, str(int(value.timestamp()))))
        else:
            text = str(value)
            pairs.append((name, quote_url(text) if name == "image_url" else text))
    return pairs


def encode_multipart(
    pairs: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, str, str, bytes]] = (),
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """Return a ``multipart/form-data`` body and its Content-Type.

    ``files`` are ``(field, filename, content type, bytes)``. Built by hand rather than by
    requests so the exact bytes are known and testable.
    """
    boundary = boundary or f"gancio-site-{secrets.token_hex(16)}"
    parts = []
    for name, value in pairs:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
        parts.append(head.encode() + value.encode() + b"\r\n")
    for name, filename, content_type, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
            f'filename="{_quoted(filename)}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def quote_url(url: str) -> str:
    """Return ``url`` with non-ASCII characters and spaces percent-encoded (IDN hosts too)."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if host and not host.isascii():
        netloc = parts.netloc.replace(host, host.encode("idna").decode("ascii"))
        parts = parts._replace(netloc=netloc)
    keep = "/:@!$&'()*+,;=%~-._"
    return urlunsplit(
        parts._replace(
            path=quote(parts.path, safe=keep),
            query=quote(parts.query, safe=keep + "?"),
            fragment=quote(parts.fragment, safe=keep + "?#"),
        )
    )


def _quoted(text: str) -> str:
    # What browsers do inside a quoted multipart name or filename (WHATWG HTML).
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def image_parts(image: ImageArg) -> list[tuple[str, str, str, bytes]]:
    if image is None:
        return []
    if isinstance(image, tuple):
        filename, data, content_type = image
    else:
        path = Path(image)
        filename, data = path.name, path.read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return [("image", filename, content_type, data)]
