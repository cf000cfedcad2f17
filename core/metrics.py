"""Prometheus metrics of one application, on its own registry (no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The counters and histograms the engine and server update."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "chorus_messages",
            "Messages handled, by channel, direction and conversation state after handling.",
            ["channel", "direction", "state"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "chorus_handle_seconds",
            "Time the engine spent on one inbound message, including waiting for its turn.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "chorus_errors",
            "Failures, by where they happened and the error class (stage inbox: an update "
            "that failed every attempt, whose sender got an apology).",
            ["stage", "error"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "chorus_rate_limited",
            "Messages refused because their sender wrote too fast, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.redis_unavailable = Counter(
            "chorus_redis_unavailable",
            "Times Redis could not be reached, by what needed it.",
            ["use"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "chorus_duplicate_deliveries",
            "Redelivered platform messages answered from storage.",
            ["channel"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "chorus_state_transitions",
            "State machine events, by event.",
            ["event"],
            registry=self.registry,
        )

        self.retrieval_seconds = Histogram(
            "chorus_retrieval_seconds",
            "Time to find the passages for a question, the query's embedding included.",
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.generation_seconds = Histogram(
            "chorus_generation_seconds",
            "Time to write an answer (from passages) or a piece of content.",
            ["kind"],
            registry=self.registry,
            buckets=(*LATENCY_BUCKETS, 30, 60, 120),
        )
        self.webhook_rejections = Counter(
            "chorus_webhook_rejections",
            "Webhook calls refused (bad signature or secret, malformed, unknown bot), by "
            "channel, HTTP status and reason; an update that passed the secret but cannot "
            'be read is answered 200 (so it is not sent again) with reason "unparseable".',
            ["channel", "status", "reason"],
            registry=self.registry,
        )
        self.document_jobs = Counter(
            "chorus_document_jobs",
            "Documents creators sent, by how learning them ended (done or failed).",
            ["status"],
            registry=self.registry,
        )
        self.content_jobs = Gauge(
            "chorus_content_jobs",
            "Content jobs not finished yet, by status (read when scraped).",
            ["status"],
            registry=self.registry,
        )
        self.oldest_job_seconds = Gauge(
            "chorus_oldest_unfinished_job_seconds",
            "Age of the oldest content job not finished yet (0 when none; read when scraped).",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "chorus_job_queue_depth",
            "Jobs waiting in the Redis queue (read when scraped; 0 without Redis).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The exposition text for ``GET /metrics``."""
        return generate_latest(self.registry)
