"""``/api/v1/bots/{bot_id}/documents``, ``/document-jobs`` and ``/search``: a bot's
knowledge.

An upload is streamed to disk (never held whole in memory, refused past the document
size limit) and learned by a background document job, like a document sent in a chat:
the answer is 202 with the job, whose progress and outcome ``/document-jobs/{id}`` tells.
"""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path, PurePath
from typing import Annotated

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field, StringConstraints

from core.api.common import API, Strict, not_found, owned_bot, services
from core.api.spec import ApiError, Call, Moment, unreadable
from core.storage.models import DocumentJob
from knowledge.base import DocumentInfo

CHUNK = 64 * 1024
# what aiohttp's multipart reader raises for a body that is not well-formed multipart: a
# missing or wrong boundary, a truncated body, broken part headers, a bad charset field
# (a body that cannot be read at all, cut short or not in the Content-Encoding it names,
# is the server's 400: see core.app)
_MALFORMED = (ValueError, RuntimeError, AssertionError, KeyError, HttpProcessingError)
_IDENTITY = ("binary", "8bit", "7bit")


class DocumentOut(BaseModel):
    id: str
    title: str
    source: str
    mime_type: str
    pages: int | None
    passages: int
    created_at: Moment


class DocumentJobOut(BaseModel):
    """A document being learned: queued, running, done (``document_id``) or failed
    (``error``); ``progress`` is the latest step, then what was learned."""

    id: str
    status: str
    filename: str
    size: int
    progress: str | None
    document_id: str | None
    error: str | None
    created_at: Moment
    updated_at: Moment


class JobsQuery(Strict):
    limit: int = Field(default=20, ge=1, le=100)


class SearchQuery(Strict):
    q: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="a question, as an end user would ask it"
    )
    limit: int = Field(default=5, ge=1, le=20)


class Hit(BaseModel):
    text: str
    title: str
    document_id: str
    page: int | None
    section: str | None
    score: float = Field(description="the fused rank score")
    similarity: float | None = Field(description="cosine similarity, if dense search found it")
    bm25: float | None
    relevant: bool = Field(description="whether it passes the relevance gate")


class SearchResult(BaseModel):
    covered: bool = Field(description="whether the bot would answer from these passages")
    min_similarity: float
    hits: list[Hit]


def _document(info: DocumentInfo) -> DocumentOut:
    return DocumentOut(
        id=info.id,
        title=info.title,
        source=info.source,
        mime_type=info.mime_type,
        pages=info.pages,
        passages=info.chunk_count,
        created_at=info.created_at,
    )


def _job(job: DocumentJob) -> DocumentJobOut:
    return DocumentJobOut.model_validate(job, from_attributes=True)


@API.route(
    "POST",
    "/bots/{bot_id}/documents",
    summary="Upload a document (the multipart field file) to learn in the background",
    tag="knowledge",
    scope="knowledge:write",
    response=DocumentJobOut,
    status=202,
    errors=(404, 413, 415),
    upload=True,
)
async def upload_document(call: Call) -> DocumentJobOut:
    profile = await owned_bot(call)
    request = call.request
    if request.content_type != "multipart/form-data":
        raise ApiError(
            415, "Unsupported Media Type", "send multipart/form-data with the file in `file`"
        )
    documents = services(call).documents
    limit = services(call).knowledge.limits.max_bytes
    if request.content_length is not None and request.content_length > limit + CHUNK:
        raise _too_large(limit)
    job_id, path = documents.upload_path()
    try:
        filename, mime_type, size = await _receive(request, path, limit)
        job = await documents.submit_upload(profile, job_id, path, filename, mime_type, size)
    except ValueError as exc:
        path.unlink(missing_ok=True)
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    except BaseException:
        path.unlink(missing_ok=True)  # a refused or broken upload leaves nothing behind
        raise
    return _job(job)


async def _receive(request: web.Request, path: Path, limit: int) -> tuple[str, str, int]:
    """Stream the multipart field ``file`` to ``path``: its name, type and size. The body
    is read to its closing boundary, so a truncated one is refused (400), not learned."""
    received: tuple[str, str, int] | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if received is None and isinstance(part, BodyPartReader) and part.name == "file":
                received = await _save(part, path, limit)
            else:
                await part.release()  # another field, or a nested multipart
    except _MALFORMED as exc:
        detail = f"the multipart body is malformed ({unreadable(exc)})"
        raise ApiError(400, "Bad Request", detail) from None
    if received is None:
        raise ValueError("the multipart body has no `file` field")
    if received[2] == 0:
        raise ValueError("the file is empty")
    return received


async def _save(part: BodyPartReader, path: Path, limit: int) -> tuple[str, str, int]:
    encoding = part.headers.get("Content-Transfer-Encoding", "binary").lower()
    if encoding not in _IDENTITY or part.headers.get("Content-Encoding", "identity") != "identity":
        # read_chunk hands the bytes over as sent: keeping them encoded would store
        # something else than the document
        raise ApiError(
            415, "Unsupported Media Type", "send the file's bytes as they are, not encoded"
        )
    size = 0
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            await asyncio.to_thread(handle.write, chunk)  # not on the event loop
    finally:
        handle.close()
    if not part.at_eof():  # the body ended before the part's boundary
        raise ValueError("it ends inside the file")
    filename = PurePath(part.filename or "document").name[:255] or "document"
    mime_type = part.headers.get("Content-Type", "")
    if not mime_type or mime_type == "application/octet-stream":
        mime_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return filename, mime_type[:200], size


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "Payload Too Large", f"documents are limited to {limit // 2**20} MB")


@API.route(
    "GET", "/bots/{bot_id}/documents", summary="The documents a bot has learned, oldest first",
    tag="knowledge", scope="knowledge:read", response=list[DocumentOut], errors=(404,),
)  # fmt: skip
async def list_documents(call: Call) -> list[DocumentOut]:
    profile = await owned_bot(call)
    return [_document(d) for d in await services(call).knowledge.documents(profile.id)]


async def _owned_document(call: Call) -> DocumentInfo:
    profile = await owned_bot(call)
    wanted = call.path["document_id"]
    for info in await services(call).knowledge.documents(profile.id):
        if info.id == wanted:
            return info
    raise not_found("document")


@API.route(
    "GET", "/bots/{bot_id}/documents/{document_id}", summary="One document of a bot's",
    tag="knowledge", scope="knowledge:read", response=DocumentOut, errors=(404,),
)  # fmt: skip
async def get_document(call: Call) -> DocumentOut:
    return _document(await _owned_document(call))


@API.route(
    "DELETE", "/bots/{bot_id}/documents/{document_id}",
    summary="Forget a document: its passages leave the bot's answers at once",
    tag="knowledge", scope="knowledge:write", status=204, errors=(404,),
)  # fmt: skip
async def delete_document(call: Call) -> None:
    info = await _owned_document(call)
    await services(call).knowledge.delete(call.path["bot_id"], info.id)


@API.route(
    "GET", "/bots/{bot_id}/document-jobs", summary="A bot's latest document jobs, newest first",
    tag="knowledge", scope="knowledge:read", query=JobsQuery, response=list[DocumentJobOut],
    errors=(404,),
)  # fmt: skip
async def list_document_jobs(call: Call) -> list[DocumentJobOut]:
    profile = await owned_bot(call)
    query: JobsQuery = call.query
    return [_job(j) for j in await services(call).documents.recent(profile.id, query.limit)]


@API.route(
    "GET", "/bots/{bot_id}/document-jobs/{job_id}",
    summary="A document job: its status, progress and outcome",
    tag="knowledge", scope="knowledge:read", response=DocumentJobOut, errors=(404,),
)  # fmt: skip
async def get_document_job(call: Call) -> DocumentJobOut:
    profile = await owned_bot(call)
    job = await services(call).documents.job(profile.id, call.path["job_id"])
    if job is None:
        raise not_found("document job")
    return _job(job)


@API.route(
    "GET", "/bots/{bot_id}/search",
    summary="Search a bot's knowledge as its answers do, with every score",
    tag="knowledge", scope="knowledge:read", query=SearchQuery, response=SearchResult,
    errors=(404,),
)  # fmt: skip
async def search_knowledge(call: Call) -> SearchResult:
    profile = await owned_bot(call)
    query: SearchQuery = call.query
    retriever = services(call).retriever
    scored = await retriever.explain(profile.id, query.q, limit=query.limit)
    hits = [
        Hit(
            text=s.chunk.text,
            title=s.chunk.title,
            document_id=s.chunk.document_id,
            page=s.chunk.page,
            section=s.as_passage().section,
            score=s.fused,
            similarity=s.dense,
            bm25=s.lexical,
            relevant=s.relevant,
        )
        for s in scored
    ]
    return SearchResult(
        covered=any(h.relevant for h in hits),
        min_similarity=retriever.min_similarity,
        hits=hits,
    )
