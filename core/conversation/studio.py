"""Content jobs: from a confirmed guided flow to a script and its audio in the library.

Confirming stores a job with the turn (status ``queued``) and the conversation waits in
``generating``. The studio then reserves the credits, writes the script, records the
audio (pauses stretched to the requested duration), and hands the result to the engine,
which stores it in the user's library and moves the conversation to ``delivered`` in one
transaction; then it captures the credits and pushes the messages to the user's channel.
A failure releases the credits and tells the user. Jobs still unfinished after a crash
are run again at start-up: a job whose content was already stored is only settled, so
nothing is made or charged twice.

Jobs run as tasks of this process by default, or on the Redis queue that ``chorus worker``
processes run (:mod:`core.runtime.jobs`).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Protocol

from bots.registry import BotDirectory
from core.content import ContentType
from core.conversation.dialogue import deliver_content, fail_content
from core.conversation.engine import ConversationEngine
from core.conversation.turn import CreatedContent
from core.errors import NotEnoughCredits
from core.generation.seams import ContentRequest, TextGenerator
from core.i18n.translator import N_, Translator, translator
from core.messages import OutboundKind, OutboundMessage
from core.metrics import Metrics
from core.outbox import Address, Outbox
from core.runtime.jobs import Jobs, LocalJobs
from core.runtime.progress import relay_progress
from core.storage import repository as repo
from core.storage.database import Database
from core.storage.models import ContentJob, EndUser, as_utc, utcnow
from core.voice.ambience import AmbienceChoice
from core.voice.seams import VoiceSettings
from core.voice.voice_io import Recording, VoiceIO, voice_settings

log = logging.getLogger("chorus.studio")

KIND = "content"
MAX_ATTEMPTS = 3
# a job not finished this long after it was confirmed is given up (its credits released):
# by then its reservation has expired, and the user has long stopped waiting
MAX_AGE = timedelta(minutes=30)
NO_AUDIO = N_("Audio isn't available on this server yet, so here is the script to read or record.")
# one whole sentence per content type (see core.i18n); %(done)s is how far it got, "40%"
_RECORDING = {
    ContentType.MEDITATION: N_("Recording your guided meditation…"),
    ContentType.AFFIRMATIONS: N_("Recording your set of affirmations…"),
    ContentType.RITUAL: N_("Recording your ritual…"),
}
_RECORDED = {
    ContentType.MEDITATION: N_("Recording your guided meditation… %(done)s"),
    ContentType.AFFIRMATIONS: N_("Recording your set of affirmations… %(done)s"),
    ContentType.RITUAL: N_("Recording your ritual… %(done)s"),
}


class CreditHold(Protocol):
    """Reserve-capture-release of a job's cost; billing plugs in here."""

    async def reserve(self, job: ContentJob) -> str | None:
        """Hold the job's cost; returns a reservation id (None when nothing is held).
        Raises when the user cannot pay."""
        ...

    async def capture(self, reservation: str) -> None:
        """Spend a reservation: the content was delivered."""
        ...

    async def release(self, reservation: str) -> None:
        """Give a reservation back: the job failed."""
        ...


class NoCharge:
    """Content is free: nothing is reserved, captured or released."""

    async def reserve(self, job: ContentJob) -> str | None:
        return None

    async def capture(self, reservation: str) -> None:
        return None

    async def release(self, reservation: str) -> None:
        return None


class ContentStudio:
    """Runs content jobs in the background and delivers their results."""

    def __init__(
        self,
        db: Database,
        bots: BotDirectory,
        engine: ConversationEngine,
        generator: TextGenerator,
        outbox: Outbox,
        *,
        voice: VoiceIO | None = None,
        credits: CreditHold | None = None,
        metrics: Metrics | None = None,
        max_age: timedelta = MAX_AGE,
        jobs: Jobs | None = None,
    ) -> None:
        self._db = db
        self._bots = bots
        self._engine = engine
        self._generator = generator
        self._outbox = outbox
        self._voice = voice
        self._credits = credits or NoCharge()
        self._metrics = metrics or Metrics()
        self._max_age = max_age
        self._jobs = jobs or LocalJobs()
        self._jobs.register(KIND, self.run)
        engine.on_job(self.submit)

    async def submit(self, job_id: str) -> None:
        """Queue a stored job (once per job, however often it is submitted)."""
        await self._jobs.enqueue(KIND, job_id)

    async def resume(self, *, quiet: bool = False) -> int:
        """Queue again the jobs not finished yet (a previous process accepted them, or
        they could not be queued); ``quiet`` for the periodic sweep."""
        async with self._db.read() as session:
            unfinished = await repo.unfinished_jobs(session)
        for job_id in unfinished:
            await self.submit(job_id)
        if unfinished:
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "resuming %d unfinished content job(s)",
                len(unfinished),
            )
        return len(unfinished)

    async def idle(self) -> None:
        """Wait until no job of this process is running."""
        await self._jobs.idle()

    async def close(self) -> None:
        """Stop running jobs; they stay stored and resume at the next start."""
        await self._jobs.close()

    async def run(self, job_id: str) -> None:
        """Run one stored job to its end: delivered, failed, or (raising) to be retried."""
        async with self._db.read() as session:
            job = await repo.get_job(session, job_id)
            done = await repo.content_for_job(session, job_id) if job else None
            user = await session.get(EndUser, job.end_user_id) if job else None
        if job is None or job.status in ("done", "failed"):
            return
        if done is not None:  # stored before a crash: only the bookkeeping is left
            if job.reservation:
                await self._credits.capture(job.reservation)
            return await self._set(job_id, status="done")
        address = Address(job.bot_id, job.channel, job.sender_id)
        if job.attempts >= MAX_ATTEMPTS:
            log.error("content job %s failed %d times; giving up", job_id, job.attempts)
            return await self._fail(job, address, "too many attempts")
        if as_utc(job.created_at) < utcnow() - self._max_age:
            log.error("content job %s is older than %s; giving up", job_id, self._max_age)
            return await self._fail(job, address, "too old to finish")
        await self._set(job_id, status="running", attempts=job.attempts + 1)
        reservation = job.reservation
        if reservation is None:
            try:
                reservation = await self._credits.reserve(job)
            except NotEnoughCredits:
                return await self._fail(job, address, "not enough credits")
            await self._set(job_id, reservation=reservation)
        job.reservation = reservation
        try:
            created, recording, note = await self._make(job, address, user)
        except Exception as exc:
            log.exception("content job %s (%s) failed", job_id, job.content_type)
            self._metrics.errors.labels("studio", type(exc).__name__).inc()
            return await self._fail(job, address, f"{type(exc).__name__}: {exc}"[:500])
        replies = await self._engine.system_turn(
            address,
            lambda result, _wallet: deliver_content(
                result, created, audio=recording.media if recording else None, audio_note=note
            ),
        )
        if reservation:
            await self._credits.capture(reservation)
        await self._set(job_id, status="done", error=None)
        await self._outbox.send(address, replies)

    def _heard_rate(self, settings: VoiceSettings) -> int:
        """The rate a script is timed for: the voice's as heard, or the nominal one
        without a voice (the text is read, not heard)."""
        if self._voice is None:
            return settings.words_per_minute
        return round(self._voice.speaker.heard_rate(settings))

    async def _make(
        self, job: ContentJob, address: Address, user: EndUser | None
    ) -> tuple[CreatedContent, Recording | None, str | None]:
        bot = await self._bots.get(job.bot_id)
        if job.language:  # its persona in the language the content is made in
            bot = bot.speaking(bot.languages.resolve(job.language))
        content_type = ContentType(job.content_type)
        started = time.perf_counter()
        settings = _voice_for(job, user)
        request = ContentRequest(
            bot,
            content_type,
            job.parameters,
            job.language,
            variation=job.id,
            # timed for the voice that will speak it, not the nominal rate
            words_per_minute=self._heard_rate(settings),
        )
        script = await self._generator.compose(request)
        self._metrics.generation_seconds.labels("content").observe(time.perf_counter() - started)
        recording, note = None, None
        if job.parameters.get("voice") == "on":
            if self._voice is None:
                note = NO_AUDIO
            else:
                spoken = script.spoken or script.text
                recording = await self._record(
                    job, address, settings, script.title, spoken, _language(job, user)
                )
        created = CreatedContent(
            job.content_type,
            script.title,
            dict(job.parameters),
            script.text,
            audio=recording.record if recording else {},
            job_id=job.id,
        )
        return created, recording, note

    async def _record(
        self,
        job: ContentJob,
        address: Address,
        settings: VoiceSettings,
        title: str,
        text: str,
        language: str | None,
    ) -> Recording:
        assert self._voice is not None
        content_type = ContentType(job.content_type)
        tr = translator(language)

        async def notify(message: OutboundMessage) -> None:
            await self._outbox.send(address, [message])

        started = tr.gettext(_RECORDING[content_type])
        await notify(OutboundMessage(started, kind=OutboundKind.PROGRESS))
        minutes = job.parameters.get("duration")
        # the bed the bot's creator chose to play under the voice (none by default)
        kept = await self._bots.settings(job.bot_id)
        ambience = AmbienceChoice.from_settings(kept.get("ambience"))
        async with relay_progress(notify) as report:
            return await self._voice.record(
                text,
                settings,
                title=title,
                target_seconds=float(minutes) * 60 if isinstance(minutes, int | float) else None,
                progress=lambda done: report(_recorded(tr, content_type, done)),
                ambience=ambience,
            )

    async def _fail(self, job: ContentJob, address: Address, error: str) -> None:
        if job.reservation:
            await self._credits.release(job.reservation)
        replies = await self._engine.system_turn(
            address, lambda result, _wallet: fail_content(result)
        )
        await self._set(job.id, status="failed", error=error)
        await self._outbox.send(address, replies)

    async def _set(self, job_id: str, **values: object) -> None:
        async with self._db.transaction() as session:
            await repo.set_job(session, job_id, **values)


def _recorded(tr: Translator, content_type: ContentType, done: float) -> str:
    """``Recording your ritual… 40%``, in the user's language."""
    return tr.gettext(_RECORDED[content_type], done=tr.percent(done))


def _voice_for(job: ContentJob, user: EndUser | None) -> VoiceSettings:
    """The voice a job's audio is spoken in: the user's preferences, else the pace."""
    return voice_settings(
        user.voice_preferences if user else {},
        _language(job, user),
        str(job.parameters.get("pace") or ""),
        calm=True,
    )


def _language(job: ContentJob, user: EndUser | None) -> str | None:
    """The language the user reads and hears: the one the job was asked in (one the bot
    offers), else the user's."""
    return job.language or (user.language if user else None)
