"""Documents: multipart uploads (part ``file``) whose ids other requests refer to."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from sandbox.deps import DocumentsReader, DocumentsWriter, SandboxDep, stored, write
from sandbox.errors import ApiError
from sandbox.models import ERRORS, Document

router = APIRouter(prefix="/v2/documents", tags=["documents"], responses=ERRORS)
MAX_UPLOAD_BODY = 101 * 1024 * 1024  # the largest max_upload_bytes setting plus multipart overhead


# A plain function: reading, hashing and storing up to 100 MB runs in FastAPI's thread pool, not on the event loop.
@router.post("/", response_model=Document, status_code=201, max_body_size=MAX_UPLOAD_BODY)
def upload_document(
    request: Request,
    sandbox: SandboxDep,
    caller: DocumentsWriter,
    file: Annotated[UploadFile | None, File(description="the document (PDF, PNG or JPEG)")] = None,
) -> Response:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, {"detail": "Upload the file as multipart/form-data in a part named 'file'."})
    if file is None:
        raise ApiError(400, {"file": ["No file was submitted (multipart part 'file')."]})
    content = file.file.read()
    content_type = (file.content_type or "").split(";")[0].strip()
    name = file.filename or ""
    fingerprint = [name, content_type, hashlib.sha256(content).hexdigest()]
    return write(
        request,
        sandbox,
        caller,
        "document",
        lambda: sandbox.registry.upload_document(caller.tenant, name, content_type, content),
        fingerprint,
    )


@router.get("/{document_id}/", response_model=Document)
async def get_document(sandbox: SandboxDep, caller: DocumentsReader, document_id: str) -> Response:
    return stored(sandbox, "document", document_id, caller.tenant, "Document")
