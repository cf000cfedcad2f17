"""What every channel adapter is given: a sink that takes a message and returns replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.messages import InboundMessage, OutboundMessage

MessageSink = Callable[[InboundMessage], Awaitable[list[OutboundMessage]]]
