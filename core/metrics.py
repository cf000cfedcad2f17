"""Prometheus metrics of one application, on its own registry (no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
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
            "Failures, by where they happened and the error class.",
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

    def render(self) -> bytes:
        """The exposition text for ``GET /metrics``."""
        return generate_latest(self.registry)
