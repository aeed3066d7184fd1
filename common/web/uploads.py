"""File uploads with a size limit enforced while the body streams in.

FastAPI parses a `File()` parameter before any dependency runs, so a limit checked there comes
after the whole body has been spooled. Here the body is parsed from a `receive` that counts the
bytes and stops at the limit; the declared Content-Length is only an early, cheap refusal (a
client may send no length, or lie). Starlette spools the file part to a temporary file past
1 MB, so memory stays flat whatever the size.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message

from common.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

# Multipart framing around the file (boundaries, part headers, other small fields).
FRAMING_ALLOWANCE = 64 * 1024


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"
    title = "File too large"


class MissingUpload(InvalidInput):
    code = "missing_file"
    title = "No file was uploaded"


def upload_request_body(field: str, description: str) -> dict[str, Any]:
    """`openapi_extra` documenting a multipart body with one binary `field`."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [field],
                        "properties": {
                            field: {
                                "type": "string",
                                "format": "binary",
                                "description": description,
                            }
                        },
                    }
                }
            },
        }
    }


def _too_large(max_bytes: int) -> FileTooLarge:
    return FileTooLarge(
        f"The file is larger than the limit of {max_bytes} bytes.", max_bytes=max_bytes
    )


async def receive_upload(request: Request, *, field: str, max_bytes: int) -> FormData:
    """The parsed multipart form, refused with 413 as soon as the body passes the limit.

    The caller closes the form (`await form.close()`) to delete the spooled file.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(f"Send the file as multipart/form-data in the field {field!r}.")
    body_limit = max_bytes + FRAMING_ALLOWANCE
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_limit:
        raise _too_large(max_bytes)
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > body_limit:
                raise _too_large(max_bytes)
        return message

    form = await Request(request.scope, limited_receive).form(max_files=1, max_fields=20)
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        await form.close()
        raise MissingUpload(
            f"Attach the file in the multipart field {field!r}.",
            errors=[
                {
                    "in": "body",
                    "pointer": f"#/{field}",
                    "detail": "Field required",
                    "type": "missing",
                }
            ],
        )
    if upload.size is not None and upload.size > max_bytes:
        await form.close()
        raise _too_large(max_bytes)
    return form
