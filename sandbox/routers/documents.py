"""Documents: multipart uploads (part ``file``) whose ids other requests refer to."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sandbox.deps import Caller, DocumentsReader, DocumentsWriter, Sandbox, SandboxDep, stored, write
from sandbox.errors import ApiError
from sandbox.models import ERRORS, Document

router = APIRouter(prefix="/v2/documents", tags=["documents"], responses=ERRORS)
MAX_UPLOAD_BODY = 101 * 1024 * 1024  # the largest max_upload_bytes setting plus multipart overhead


SMALL_UPLOAD = 1024 * 1024  # up to this size an upload is stored on the event loop (a hop to a thread costs more)


@router.post("/", response_model=Document, status_code=201, max_body_size=MAX_UPLOAD_BODY)
async def upload_document(
    request: Request,
    sandbox: SandboxDep,
    caller: DocumentsWriter,
    file: Annotated[UploadFile | None, File(description="the document (PDF, PNG or JPEG)")] = None,
) -> Response:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, {"detail": "Upload the file as multipart/form-data in a part named 'file'."})
    if file is None:
        raise ApiError(400, {"file": ["No file was submitted (multipart part 'file')."]})
    if file.size is not None and file.size <= SMALL_UPLOAD:
        return _store(request, sandbox, caller, file)
    return await run_in_threadpool(_store, request, sandbox, caller, file)  # up to 100 MB: not on the event loop


def _store(request: Request, sandbox: Sandbox, caller: Caller, file: UploadFile) -> Response:
    """Read, hash and store an upload (the same content, name and type under the same key replay the answer)."""
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
