"""What every channel adapter is given: a sink that takes a message and returns replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.messages import InboundMessage, OutboundMessage
from core.progress import Notify

MessageSink = Callable[[InboundMessage, Notify | None], Awaitable[list[OutboundMessage]]]
