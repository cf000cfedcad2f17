"""SQLAlchemy models: the relational shape of creators, bots, end users and conversations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC datetime (SQLite gives them back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


class Creator(Base):
    """A person who owns bots."""

    __tablename__ = "creators"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # the bot the creator's commands in the manager bot apply to (no foreign key: bots
    # already point at their creator, and a deleted bot simply stops being chosen)
    current_bot_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreatorLogin(Base):
    """A creator's email and password for the REST API (an argon2 hash)."""

    __tablename__ = "creator_logins"

    creator_id: Mapped[int] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """One refresh token (by its JWT id). Using it spends it and issues the next of its
    family; presenting a spent one again revokes the whole family (a stolen token)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[int] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), index=True
    )
    family: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A creator's API key: ``chorus_ID_SECRET``, of which only a SHA-256 of the secret
    is kept, with the scopes it grants."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    creator_id: Mapped[int] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class IdempotencyRecord(Base):
    """The answer to a creating request sent with an ``Idempotency-Key``, kept for a day
    so that the same request again gets the same answer without doing it twice."""

    __tablename__ = "idempotency_records"

    creator_id: Mapped[int] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)  # None while the first is running
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    """A creator's URL that hears some events of their bots (all of them, or one),
    signed with ``secret``."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[int] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), index=True
    )
    # None: every bot of the creator's
    bot_id: Mapped[str | None] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event to send to one endpoint, from pending to delivered or failed, with the
    outcome of its latest attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreatorIdentity(Base):
    """How a creator is known on a channel, so their messages unlock creator commands."""

    __tablename__ = "creator_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    creator_id: Mapped[int] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))


class Bot(Base):
    """A creator's agent: its persona, greeting and settings."""

    __tablename__ = "bots"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    persona: Mapped[str] = mapped_column(Text, default="")
    greeting: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # bumped whenever the bot's documents change, so search indexes know to refresh
    knowledge_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EndUser(Base):
    """Someone who talks to a bot, with their preferences."""

    __tablename__ = "end_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    # where the language came from: "chosen" (/language), "platform" or "detected" (their
    # text); None for users stored before this was recorded (kept as if chosen)
    language_source: Mapped[str | None] = mapped_column(String(16))
    voice_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # how spoken replies and content sound: {"voice": "en-gb", "speed": "slow", "pitch": "low"}
    voice_preferences: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # an IANA zone ("Europe/Paris") the user gave or their channel told; None: unknown
    timezone: Mapped[str | None] = mapped_column(String(64))
    # set when the user sent /stop: no broadcasts or scheduled messages reach them
    opted_out_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelIdentity(Base):
    """How an end user is known on one channel (Telegram chat id, WhatsApp number...)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("bot_id", "channel", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))
    end_user_id: Mapped[int] = mapped_column(
        ForeignKey("end_users.id", ondelete="CASCADE"), index=True
    )
    # False once the user blocked the bot there: nothing is pushed to them on it
    reachable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """An end user's conversation with a bot: its state and the flow's collected answers."""

    __tablename__ = "conversations"
    # the API lists a bot's conversations, most recently active first
    __table_args__ = (Index("ix_conversations_bot_id_updated_at_id", "bot_id", "updated_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    end_user_id: Mapped[int] = mapped_column(
        ForeignKey("end_users.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(String(32))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # bumped by every stored turn, so a process holding an older copy notices
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """One inbound or outbound message, stored as the channel saw it."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))  # conversation state after this message
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedDelivery(Base):
    """A platform message id that has been handled, and the inbound row that answered it."""

    __tablename__ = "processed_deliveries"
    __table_args__ = (UniqueConstraint("bot_id", "channel", "platform_message_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    platform_message_id: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentItem(Base):
    """A piece of personalised content made for an end user: their library."""

    __tablename__ = "content_items"
    __table_args__ = (Index("ix_content_items_bot_id_id", "bot_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    end_user_id: Mapped[int] = mapped_column(
        ForeignKey("end_users.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(Text)
    # the spoken version: media names per format ("ogg", "mp3") and "duration" in seconds
    audio: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # the generation job that made it; unique, so a job that is run again adds nothing
    job_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentJob(Base):
    """A confirmed request for personalised content, from "queued" to "done" or "failed".

    Stored with the turn that confirmed it, so a job accepted before a crash is found and
    run again at start-up; ``address`` is where to deliver the result.
    """

    __tablename__ = "content_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    end_user_id: Mapped[int] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reservation: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentJob(Base):
    """A document a creator sent, to be learned in the background: where to read it, and
    the chat (``reply_bot``, ``channel``, ``sender_id``) that hears its progress, which is
    the manager bot's or the bot's own."""

    __tablename__ = "document_jobs"
    __table_args__ = (Index("ix_document_jobs_bot_id_created_at", "bot_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    reply_bot: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    document_id: Mapped[str | None] = mapped_column(String(64))
    # the latest progress ("Reading page 12 of 40…"), then what was learned
    progress: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # the language the chat is told in (the creator's when they sent it); None: English
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelAccount(Base):
    """A bot's account on a platform: its Telegram bot (token, webhook secret) or its
    WhatsApp number. ``secret`` is what the platform's webhook calls must present."""

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("bot_id", "channel"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))  # Telegram bot id, phone number
    username: Mapped[str | None] = mapped_column(String(200))
    token: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundUpdate(Base):
    """A platform delivery accepted by a webhook, stored before it is acknowledged and
    processed from here, so a crash in between is resumed at the next start."""

    __tablename__ = "inbound_updates"
    __table_args__ = (
        UniqueConstraint("bot_id", "channel", "update_id"),
        Index("ix_inbound_updates_chat", "bot_id", "channel", "chat", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # a creator's bot, or the manager bot (which has no row in ``bots``)
    bot_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(200))
    # the conversation it belongs to: one chat's updates are processed in id order
    chat: Mapped[str] = mapped_column(String(200), default="", server_default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending|done|failed|refused
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A document in a bot's knowledge base; its id is a hash of the bot and the content."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("bot_id", "content_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(2000))
    mime_type: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chunk(Base):
    """A passage of a document with its provenance; the text the indexes are built from."""

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_bot_id_document_id", "bot_id", "document_id"),
        Index("ix_chunks_bot_id_embedder", "bot_id", "embedder"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer)
    heading_path: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[int] = mapped_column(Integer)  # character offsets in the document's text
    end: Mapped[int] = mapped_column(Integer)
    # the embedding model whose vector of it is in the vector store; None: not yet
    embedder: Mapped[str | None] = mapped_column(String(100), default=None)


class WidgetFrame(Base):
    """A numbered frame of a web-widget conversation (what the visitor said, what the bot
    replied), kept so a reconnecting or reloaded page gets what it missed, once."""

    __tablename__ = "widget_frames"
    __table_args__ = (
        UniqueConstraint("bot_id", "visitor_id", "seq"),
        Index("ix_widget_frames_bot_id_visitor_id_ref", "bot_id", "visitor_id", "ref"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # said | reply | push | greeting
    ref: Mapped[str | None] = mapped_column(String(64))  # the visitor's message id
    frame: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WhatsAppContact(Base):
    """A WhatsApp user of a bot: when they last wrote (free-form replies are allowed for
    24 hours after that) and the numbered options they were offered last."""

    __tablename__ = "whatsapp_contacts"
    __table_args__ = (UniqueConstraint("bot_id", "number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class SentMessage(Base):
    """A message handed to a provider (or held back), with its delivery status as the
    provider's callbacks report it: queued, sent, delivered, read, failed, held."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("provider_id"),
        Index("ix_outbound_messages_bot_id_status", "bot_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditAccount(Base):
    """An end user's credits with a bot: the balance (kept equal to the sum of the ledger's
    entries, in the same transaction), any debt left by a refund after spending, and
    their monthly tier."""

    __tablename__ = "credit_accounts"
    __table_args__ = (
        UniqueConstraint("end_user_id"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    end_user_id: Mapped[int] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"))
    balance: Mapped[int] = mapped_column(Integer, default=0)
    debt: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str | None] = mapped_column(String(32))
    subscription_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # the Stripe time of the subscription event that set the tier: older ones are ignored
    tier_changed_at: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    """One change to an account, never updated or deleted: ``amount`` is what it did to
    the balance, ``debt_change`` to the debt; ``cause`` names why (a content job, a
    Stripe event, a creator)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("credit_accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int] = mapped_column(Integer)
    debt_change: Mapped[int] = mapped_column(Integer, default=0)
    balance_after: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    hold_id: Mapped[str | None] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditHold(Base):
    """Credits set aside for content being made: captured on delivery, released on
    failure or when it expires (the process making it died)."""

    __tablename__ = "credit_holds"
    __table_args__ = (Index("ix_credit_holds_status_expires_at", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("credit_accounts.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[int] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # open | captured | released
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payment(Base):
    """A Stripe Checkout Session we created: who pays, for which pack or tier, and what
    came of it (paid, refunded), so webhook events apply once and in any order."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # the session id
    account_id: Mapped[int] = mapped_column(
        ForeignKey("credit_accounts.id", ondelete="CASCADE"), index=True
    )
    # where the buyer is, to tell them when it is paid
    bot_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(200))
    offer: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))  # payment | subscription
    credits: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | paid | failed
    payment_intent: Mapped[str | None] = mapped_column(String(255), unique=True)
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    credits_reversed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StripeRefund(Base):
    """How much of a payment Stripe says was refunded, kept even before the payment
    itself is known (events arrive in any order)."""

    __tablename__ = "stripe_refunds"

    payment_intent: Mapped[str] = mapped_column(String(255), primary_key=True)
    amount_refunded: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)


class StripeEvent(Base):
    """A Stripe webhook event already applied: stored with its effect, so a redelivery
    changes nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionUsage(Base):
    """How many questions an account asked on a day (UTC), for the free daily quota."""

    __tablename__ = "question_usage"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("credit_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class Schedule(Base):
    """A message a creator has sent to every subscriber of a bot on some weekdays at a
    time of day in each user's own time zone (``timezone`` for users whose zone is not
    known)."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    local_time: Mapped[str] = mapped_column(String(5))  # "08:30"
    # ISO weekdays it runs on, 1 (Monday) to 7
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1, 2, 3, 4, 5, 6, 7])
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    """One message to a bot's subscribers, sent by a creator or by a schedule; its
    recipients carry how it went for each. A schedule makes one broadcast per
    ``occurrence`` (a local date and time zone), never two."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        UniqueConstraint("schedule_id", "occurrence"),
        Index("ix_broadcasts_bot_id_id", "bot_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))  # chat | api | schedule
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    occurrence: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))  # draft | sending | done | cancelled
    # the creator's chat told of its progress and outcome: {"bot", "channel", "sender_id"}
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class BroadcastRecipient(Base):
    """One end user a broadcast is for, on the channel it reaches them on: pending, then
    delivered, failed or skipped (opted out, unreachable), with the reason."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "end_user_id"),
        Index("ix_broadcast_recipients_broadcast_id_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    end_user_id: Mapped[int] = mapped_column(
        ForeignKey("end_users.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkCode(Base):
    """A one-time code an end user got with /link: entered on another channel of the
    same bot, it joins that identity to this user. Only its hash is kept."""

    __tablename__ = "link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    end_user_id: Mapped[int] = mapped_column(
        ForeignKey("end_users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
