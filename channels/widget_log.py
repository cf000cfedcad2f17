"""The numbered frames of each widget conversation, stored so nothing is missed or doubled.

Every frame the server wants a visitor to see for good (what they said, the bot's
replies, content pushed later) gets the next ``seq`` of that visitor and is stored before
it is sent. A page that reconnects asks for what came after the last ``seq`` it showed.
Frames that answer a visitor's message carry its id, so processing the same message again
(after a crash) finds them instead of adding them twice. A visitor who asks to be
forgotten has their frames erased; numbering then starts again from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.storage.database import Database
from core.storage.models import WidgetFrame

REPLAY_LIMIT = 500
ATTEMPTS = 5


class LogErased(Exception):
    """The visitor's frames were erased (they asked to be forgotten) since the frame
    that was expected to be stored: nothing more was added."""

    def __init__(self, bot_id: str, visitor: str) -> None:
        super().__init__(f"the widget log of {visitor} with {bot_id} was erased")
        self.bot_id = bot_id
        self.visitor = visitor


class WidgetLog:
    """Appends and replays a visitor's numbered frames."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self,
        bot_id: str,
        visitor: str,
        kind: str,
        frames: Sequence[dict[str, Any]],
        ref: str | None = None,
        after: int | None = None,
    ) -> list[dict[str, Any]]:
        """Store ``frames`` with the next numbers and return them with their ``seq``.

        With ``ref`` (the visitor's message id), frames of this ``kind`` stored for it
        before are returned instead and nothing is added. With ``after`` (a ``seq``
        stored before), raises :class:`LogErased` and adds nothing if the log no longer
        reaches it.
        """
        for attempt in range(ATTEMPTS):
            try:
                async with self._db.transaction() as session:
                    if ref is not None:
                        stored = await session.scalars(
                            select(WidgetFrame.frame)
                            .where(
                                WidgetFrame.bot_id == bot_id,
                                WidgetFrame.visitor_id == visitor,
                                WidgetFrame.ref == ref,
                                WidgetFrame.kind == kind,
                            )
                            .order_by(WidgetFrame.seq)
                        )
                        if found := list(stored):
                            return found
                    last = await session.scalar(
                        select(func.max(WidgetFrame.seq)).where(
                            WidgetFrame.bot_id == bot_id, WidgetFrame.visitor_id == visitor
                        )
                    )
                    if after is not None and (last or 0) < after:
                        raise LogErased(bot_id, visitor)
                    numbered = [
                        {**frame, "seq": (last or 0) + n} for n, frame in enumerate(frames, 1)
                    ]
                    session.add_all(
                        WidgetFrame(
                            bot_id=bot_id,
                            visitor_id=visitor,
                            seq=frame["seq"],
                            kind=kind,
                            ref=ref,
                            frame=frame,
                        )
                        for frame in numbered
                    )
                return numbered
            except IntegrityError:  # another task numbered frames of this visitor first
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def since(
        self, bot_id: str, visitor: str, last_seq: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """The highest ``seq`` stored, and the frames after ``last_seq`` (the latest
        :data:`REPLAY_LIMIT`), in order."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(WidgetFrame.frame)
                .where(
                    WidgetFrame.bot_id == bot_id,
                    WidgetFrame.visitor_id == visitor,
                    WidgetFrame.seq > last_seq,
                )
                .order_by(WidgetFrame.seq.desc())
                .limit(REPLAY_LIMIT)
            )
            frames = list(rows)[::-1]
        if frames:
            return frames[-1]["seq"], frames
        return await self.latest(bot_id, visitor), []

    async def latest(self, bot_id: str, visitor: str) -> int:
        """The highest ``seq`` stored for the visitor; 0 while nothing is."""
        async with self._db.read() as session:
            last = await session.scalar(
                select(func.max(WidgetFrame.seq)).where(
                    WidgetFrame.bot_id == bot_id, WidgetFrame.visitor_id == visitor
                )
            )
        return last or 0
