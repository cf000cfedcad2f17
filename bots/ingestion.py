"""Documents creators send in a chat, learned by background jobs.

Reading, chunking and embedding a long PDF takes a while; it should neither hold up the
creator's chat nor be lost to a restart. A document is therefore stored as a job (where
to read it, which bot learns it, which chat hears about it and in which language: the
creator's when they sent it) and run by :mod:`core.runtime.jobs`:
in this process by default, by ``chorus worker`` with Redis. The job tells the chat what
it is reading, its progress every couple of seconds, and what was learned, through the
outbox, so the messages reach the creator from whichever process runs it. A job
interrupted by a crash runs again at the next start or sweep; learning the same document
twice changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.i18n.translator import ENGLISH, Translator, translator
from core.messages import (
    Attachment,
    AttachmentKind,
    OutboundMessage,
    file_reference,
    referenced_file,
)
from core.metrics import Metrics
from core.outbox import Address, Outbox
from core.runtime.jobs import Jobs
from core.runtime.progress import Notify, relay_progress
from core.storage.database import Database
from core.storage.models import DocumentJob, utcnow
from core.text import counted
from knowledge.base import DocumentInfo, KnowledgeBase
from knowledge.documents import Progress
from knowledge.errors import (
    DocumentTooLarge,
    EmbeddingFailed,
    FetchFailed,
    KnowledgeError,
    OcrUnavailable,
    UnknownDocument,
    UnreadableDocument,
    UnsupportedDocument,
)

log = logging.getLogger("chorus.ingestion")

KIND = "document"
MAX_ATTEMPTS = 3
#: the channel of documents uploaded through the REST API: no chat hears about them;
#: their progress and outcome are read from the job
API_CHANNEL = "api"
AttachmentReader = Callable[[Attachment], Awaitable[bytes]]
#: what a creator may send to be learned: files, and photos of pages (read with OCR)
LEARNABLE = frozenset({AttachmentKind.DOCUMENT, AttachmentKind.IMAGE})


class Learner:
    """Reads a document a creator sent and adds it to a bot's knowledge."""

    def __init__(self, knowledge: KnowledgeBase, read: AttachmentReader) -> None:
        self._knowledge = knowledge
        self._read = read

    def refusal(self, attachment: Attachment, tr: Translator = ENGLISH) -> str | None:
        """Why the attachment cannot be learned, told at once in ``tr``'s language; None
        when it may be (a document, or a photo: a picture of a page is read with OCR)."""
        name = _name(attachment)
        if attachment.kind not in LEARNABLE:
            return tr.gettext(
                "I can learn from documents (PDF, DOCX, HTML, Markdown, text) and photos "
                "or scans of pages, not from this kind of file."
            )
        if attachment.size > self._knowledge.limits.max_bytes:
            limit = self._knowledge.limits.max_bytes // (1024 * 1024)
            return tr.gettext(
                "%(name)s is too large: the limit is %(limit)s MB.",
                name=name,
                limit=tr.number(limit),
            )
        return None

    async def learn(
        self,
        bot: BotProfile,
        attachment: Attachment,
        notify: Notify | None,
        tr: Translator = ENGLISH,
    ) -> Lesson:
        """Ingest the document with progress messages in ``tr``'s language; how it ended."""
        name = _name(attachment)
        async with relay_progress(notify) as report:
            report(tr.gettext("Reading %(name)s…", name=name))
            try:
                data = await self._read(attachment)
                result = await self._knowledge.ingest_bytes(
                    bot.id,
                    data,
                    name,
                    mime_type=attachment.mime_type,
                    progress=lambda p: report(progress_text(p, name, tr)),
                )
            except KnowledgeError as exc:
                return Lesson(name, unlearnable=str(exc), problem=exc)
            except OSError as exc:
                return Lesson(name, unreadable=str(exc.strerror or exc))
        return Lesson(name, result.document, added=result.added)


def progress_text(progress: Progress, name: str, tr: Translator = ENGLISH) -> str:
    """A step of learning the document ``name``, as its chat is told it in ``tr``'s
    language (the knowledge base reports it in English, with its numbers)."""
    if tr.language == ENGLISH.language:
        return progress.message
    stage, done, total = progress.stage, progress.done, progress.total
    if stage == "reading":
        if total is None:
            return tr.gettext("Downloading %(name)s…", name=name)
        if done == 0:
            return tr.gettext("Reading %(name)s…", name=name)
        if total > 1:
            return tr.gettext(
                "Reading page %(page)s of %(total)s…",
                page=tr.number(done),
                total=tr.number(total),
            )
        return tr.gettext("Read %(name)s", name=name)
    if stage == "ocr" and total:
        if done < total:
            return tr.gettext(
                "Reading the scanned pages with OCR: %(done)s of %(total)s…",
                done=tr.number(done + 1),
                total=tr.number(total),
            )
        return tr.ngettext("Read %(count)s page with OCR", "Read %(count)s pages with OCR", total)
    if stage == "chunking":
        return tr.ngettext(
            "Split %(name)s into %(count)s passage…",
            "Split %(name)s into %(count)s passages…",
            done,
            name=name,
        )
    if stage == "indexing":
        return tr.gettext("Indexing the passages…")
    if stage == "embedding" and total is not None:
        return tr.gettext(
            "Embedding passages: %(done)s of %(total)s…",
            done=tr.number(done),
            total=tr.number(total),
        )
    if stage == "done":
        return tr.ngettext(
            "Learned %(name)s: %(count)s passage.",
            "Learned %(name)s: %(count)s passages.",
            done,
            name=name,
        )
    return progress.message


def knowledge_problem(exc: KnowledgeError, tr: Translator = ENGLISH) -> str:
    """What went wrong with a document, for its creator in ``tr``'s language (the
    knowledge base says it in English; English keeps its own, fuller words)."""
    if tr.language == ENGLISH.language:
        return str(exc)
    if isinstance(exc, UnknownDocument):
        return tr.gettext("there's no document %(id)s: /docs lists them", id=exc.document_id[:40])
    if isinstance(exc, UnsupportedDocument):
        return tr.gettext(
            "%(name)s: %(kind)s files are not supported (PDF, DOCX, HTML, Markdown, plain "
            "text and images of text are)",
            name=exc.name,
            kind=exc.detected,
        )
    if isinstance(exc, DocumentTooLarge):
        return tr.gettext("%(name)s is over the limit of %(limit)s", name=exc.name, limit=exc.limit)
    if isinstance(exc, UnreadableDocument):
        if "no text" in exc.reason or "no readable text" in exc.reason:
            return tr.gettext("%(name)s has no text to learn from", name=exc.name)
        return tr.gettext("%(name)s can't be read: it may be damaged or protected", name=exc.name)
    if isinstance(exc, OcrUnavailable):
        return tr.gettext("scanned pages can't be read on this server")
    if isinstance(exc, FetchFailed):
        return tr.gettext("%(address)s could not be fetched", address=exc.url)
    if isinstance(exc, EmbeddingFailed):
        return tr.gettext("the documents can't be searched right now; please try again later")
    return tr.gettext("something went wrong with the documents; please try again later")


@dataclass(frozen=True, slots=True)
class Wording:
    """How the outcome of a document job is put, for one audience: a creator's chat
    (which knows /docs) or the REST API (whose clients read ids from the job)."""

    learned: str
    known: str
    unlearnable: str
    unreadable: str
    gave_up: str


#: on the job the REST API shows (whatever channel the document came from)
JOB_WORDING = Wording(
    learned="Learned “{title}”{pages}: {passages}.",
    known="Already learned as “{title}” (document {id}); nothing changed.",
    unlearnable="Could not learn from {name}: {reason}",
    unreadable="Could not read {name}: {reason}",
    gave_up="Learning {name} failed {attempts} times.",
)


@dataclass(frozen=True, slots=True)
class Lesson:
    """How learning one document ended: the document (new, or ``added`` False when it
    was known already), or why there is none."""

    name: str
    document: DocumentInfo | None = None
    added: bool = False
    unlearnable: str | None = None  # the document itself: unsupported, no text, too big
    unreadable: str | None = None  # its bytes could not be had
    problem: KnowledgeError | None = None  # why it is unlearnable, to tell in a language

    def told(self, wording: Wording) -> str:
        """The outcome in ``wording``."""
        doc = self.document
        if doc is None:
            if self.unreadable is not None:
                return wording.unreadable.format(name=self.name, reason=self.unreadable)
            return wording.unlearnable.format(name=self.name, reason=self.unlearnable or "")
        values = {"title": doc.title, "id": doc.id, "short_id": doc.id[:8]}
        if not self.added:
            return wording.known.format(**values)
        pages = f", {counted(doc.pages, 'page')}" if doc.pages else ""
        passages = counted(doc.chunk_count, "passage")
        return wording.learned.format(pages=pages, passages=passages, **values)

    def said(self, tr: Translator = ENGLISH) -> str:
        """The outcome as the creator's chat is told it, in ``tr``'s language."""
        doc = self.document
        if doc is None:
            if self.unreadable is not None:
                return tr.gettext(
                    "I couldn't fetch %(name)s: %(reason)s", name=self.name, reason=self.unreadable
                )
            reason = (
                knowledge_problem(self.problem, tr)
                if self.problem is not None
                else self.unlearnable or ""
            )
            return tr.gettext("I couldn't learn from that file. %(reason)s", reason=reason)
        if not self.added:
            return tr.gettext(
                "I already know “%(title)s” (id %(id)s); nothing changed.",
                title=doc.title,
                id=doc.id[:8],
            )
        passages = tr.ngettext("%(count)s passage", "%(count)s passages", doc.chunk_count)
        if doc.pages:
            return tr.gettext(
                "Learned “%(title)s”, %(pages)s: %(passages)s. Its id is %(id)s; /docs "
                "lists everything I know.",
                title=doc.title,
                pages=tr.ngettext("%(count)s page", "%(count)s pages", doc.pages),
                passages=passages,
                id=doc.id[:8],
            )
        return tr.gettext(
            "Learned “%(title)s”: %(passages)s. Its id is %(id)s; /docs lists everything I know.",
            title=doc.title,
            passages=passages,
            id=doc.id[:8],
        )


class DocumentJobs:
    """Stores documents to learn as jobs, runs them, and resumes unfinished ones."""

    def __init__(
        self,
        db: Database,
        bots: BotDirectory,
        learner: Learner,
        outbox: Outbox,
        jobs: Jobs,
        metrics: Metrics | None = None,
        uploads: Path | None = None,
    ) -> None:
        self._db = db
        # where uploaded files wait to be learned (deleted once they are)
        self._uploads = uploads
        self._bots = bots
        self._learner = learner
        self._outbox = outbox
        self._jobs = jobs
        self._metrics = metrics or Metrics()
        jobs.register(KIND, self.run)

    async def submit(
        self, bot: BotProfile, attachment: Attachment, chat: Address, *, tr: Translator = ENGLISH
    ) -> list[OutboundMessage]:
        """Queue the document for ``bot``, its progress told to ``chat`` in ``tr``'s
        language (kept with the job, for messages sent later); the replies to give now
        (a refusal, or none: the job speaks for itself)."""
        if (refusal := self._learner.refusal(attachment, tr)) is not None:
            return [_text(refusal)]
        await self._queue(bot, attachment, chat, uuid.uuid4().hex, tr)
        return []

    def upload_path(self) -> tuple[str, Path]:
        """A new job id and the file where its upload is to be written."""
        if self._uploads is None:
            raise RuntimeError("this server keeps no uploads")
        self._uploads.mkdir(parents=True, exist_ok=True)
        job_id = uuid.uuid4().hex
        return job_id, self._uploads / job_id

    async def submit_upload(
        self, bot: BotProfile, job_id: str, path: Path, filename: str, mime_type: str, size: int
    ) -> DocumentJob:
        """Queue a file of ``size`` bytes uploaded to :meth:`upload_path`; its progress
        and outcome are kept on the job (refusals raise ``ValueError``)."""
        reference = file_reference(path)
        attachment = Attachment(AttachmentKind.DOCUMENT, mime_type, size, reference, filename)
        if (refusal := self._learner.refusal(attachment)) is not None:
            raise ValueError(refusal)
        return await self._queue(bot, attachment, None, job_id)

    async def _queue(
        self,
        bot: BotProfile,
        attachment: Attachment,
        chat: Address | None,
        job_id: str,
        tr: Translator = ENGLISH,
    ) -> DocumentJob:
        job = DocumentJob(
            id=job_id,
            bot_id=bot.id,
            reply_bot=chat.bot_id if chat else bot.id,
            channel=chat.channel if chat else API_CHANNEL,
            sender_id=chat.sender_id if chat else "",
            reference=attachment.reference,
            filename=_name(attachment)[:255],
            mime_type=attachment.mime_type[:200],
            size=attachment.size,
            status="queued",
            attempts=0,
            language=tr.language if tr is not ENGLISH else None,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        async with self._db.transaction() as session:
            session.add(job)
        await self._jobs.enqueue(KIND, job.id)
        return job

    async def job(self, bot_id: str, job_id: str) -> DocumentJob | None:
        """One of the bot's document jobs, or None."""
        async with self._db.read() as session:
            job = await session.get(DocumentJob, job_id[:32])
        return job if job is not None and job.bot_id == bot_id else None

    async def recent(self, bot_id: str, limit: int = 50) -> list[DocumentJob]:
        """The bot's latest document jobs, newest first."""
        async with self._db.read() as session:
            return list(
                await session.scalars(
                    select(DocumentJob)
                    .where(DocumentJob.bot_id == bot_id)
                    .order_by(DocumentJob.created_at.desc(), DocumentJob.id.desc())
                    .limit(limit)
                )
            )

    async def resume(self, *, quiet: bool = False) -> int:
        """Queue again the documents not learned yet (a previous process accepted them,
        or they could not be queued); ``quiet`` for the periodic sweep."""
        async with self._db.read() as session:
            unfinished = list(
                await session.scalars(
                    select(DocumentJob.id)
                    .where(DocumentJob.status.in_(("queued", "running")))
                    .order_by(DocumentJob.created_at)
                )
            )
        for job_id in unfinished:
            await self._jobs.enqueue(KIND, job_id)
        if unfinished and not quiet:
            log.info("resuming %d unfinished document job(s)", len(unfinished))
        return len(unfinished)

    async def run(self, job_id: str) -> None:
        """Learn one stored document and tell the chat; raising leaves it to be retried."""
        async with self._db.read() as session:
            job = await session.get(DocumentJob, job_id)
        if job is None or job.status in ("done", "failed"):
            return
        chat = Address(job.reply_bot, job.channel, job.sender_id)
        tr = translator(job.language)
        if job.attempts >= MAX_ATTEMPTS:
            log.error("document job %s failed %d times; giving up", job_id, job.attempts)
            values = {"name": job.filename, "attempts": job.attempts}
            await self._set(job_id, status="failed", error=JOB_WORDING.gave_up.format(**values))
            self._discard_upload(job.reference)
            gave_up = tr.ngettext(
                "I couldn't learn from %(name)s: it failed %(count)s time. Please send it "
                "again later.",
                "I couldn't learn from %(name)s: it failed %(count)s times. Please send it "
                "again later.",
                job.attempts,
                name=job.filename,
            )
            await self._tell(chat, [_text(gave_up)])
            return
        await self._set(job_id, status="running", attempts=job.attempts + 1)
        bot = await self._bots.get(job.bot_id)
        attachment = Attachment(
            AttachmentKind.DOCUMENT, job.mime_type, job.size, job.reference, job.filename
        )

        async def notify(message: OutboundMessage) -> None:
            await self._set(job_id, progress=message.text[:500])
            await self._tell(chat, [message])

        lesson = await self._learner.learn(bot, attachment, notify, tr)
        document_id = lesson.document.id if lesson.document else None
        status = "done" if document_id else "failed"
        self._metrics.document_jobs.labels(status).inc()
        outcome = lesson.told(JOB_WORDING)[:2000]
        told = {"progress": outcome} if document_id else {"error": outcome}
        await self._set(job_id, status=status, document_id=document_id, **told)
        self._discard_upload(job.reference)
        await self._tell(chat, [_text(lesson.said(tr))])

    async def _tell(self, chat: Address, messages: list[OutboundMessage]) -> None:
        if chat.channel != API_CHANNEL:
            await self._outbox.send(chat, messages)

    def _discard_upload(self, reference: str) -> None:
        """Remove an uploaded file once its job is over (files of chats are not ours)."""
        if self._uploads is None or not reference.startswith("file:"):
            return
        path = referenced_file(reference)
        if path.parent == self._uploads:
            path.unlink(missing_ok=True)

    async def _set(self, job_id: str, **values: object) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(DocumentJob)
                .where(DocumentJob.id == job_id)
                .values(updated_at=utcnow(), **values)
            )


def _name(attachment: Attachment) -> str:
    """What to call the attachment: its file name; a photo sent as such has none."""
    if attachment.filename:
        return attachment.filename
    return "photo" if attachment.kind is AttachmentKind.IMAGE else "document"


def _text(text: str) -> OutboundMessage:
    return OutboundMessage(text=text)
