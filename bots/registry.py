"""Creating, listing and looking up bots."""

from __future__ import annotations

import re
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bots.demo import DEMO_BOT
from bots.profile import BotProfile, slugify
from core.errors import BotNameTaken, UnknownBot
from core.storage.database import Database
from core.storage.models import Bot, Creator, CreatorIdentity

CACHE_SECONDS = 5.0
VALID_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


# The person at the terminal of this installation: the creator of bots made with the CLI.
LOCAL_CREATOR = ("terminal", "local")


async def _profile(session: AsyncSession, row: Bot) -> BotProfile:
    identities: frozenset[tuple[str, str]] = frozenset()
    if row.creator_id is not None:
        found = await session.execute(
            select(CreatorIdentity.channel, CreatorIdentity.external_id).where(
                CreatorIdentity.creator_id == row.creator_id
            )
        )
        identities = frozenset((channel, external) for channel, external in found)
    return BotProfile(
        id=row.id,
        name=row.name,
        persona=row.persona,
        greeting=row.greeting,
        paused=row.paused,
        creator_identities=identities,
    )


async def creator_for(session: AsyncSession, channel: str, external_id: str, name: str) -> int:
    """The id of the creator known by this identity, created if new."""
    creator_id = await session.scalar(
        select(CreatorIdentity.creator_id).where(
            CreatorIdentity.channel == channel, CreatorIdentity.external_id == external_id
        )
    )
    if creator_id is None:
        creator = Creator(name=name)
        session.add(creator)
        await session.flush()
        session.add(
            CreatorIdentity(creator_id=creator.id, channel=channel, external_id=external_id)
        )
        creator_id = creator.id
    return creator_id


class BotDirectory:
    """The bots of this installation, with a short cache for the engine's hot path.

    The cache is brief so that a persona changed from another process shows up within
    seconds, while a busy conversation does not look its bot up on every message.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, BotProfile]] = {}

    async def get(self, bot_id: str) -> BotProfile:
        """The bot with this id; raises :class:`UnknownBot` if there is none."""
        cached = self._cache.get(bot_id)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self._db.read() as session:
            row = await session.get(Bot, bot_id)
            if row is None:
                raise UnknownBot(bot_id)
            profile = await _profile(session, row)
        self._cache[bot_id] = (time.monotonic(), profile)
        return profile

    async def list(self) -> list[BotProfile]:
        """Every bot, oldest first."""
        async with self._db.read() as session:
            rows = await session.scalars(select(Bot).order_by(Bot.created_at, Bot.id))
            return [await _profile(session, r) for r in rows]

    async def create(
        self,
        name: str,
        *,
        persona: str = "",
        greeting: str = "",
        bot_id: str | None = None,
        creator: tuple[str, str] | None = LOCAL_CREATOR,
    ) -> BotProfile:
        """Create a bot; its id is ``bot_id`` or a slug of the name made unique.

        ``creator`` is the (channel, external id) of the person creating it.
        """
        name = " ".join(name.split())
        if not name:
            raise ValueError("a bot needs a name")
        async with self._db.transaction() as session:
            if bot_id is None:
                bot_id = base = slugify(name)
                suffix = 2
                while await session.get(Bot, bot_id) is not None:
                    bot_id = f"{base[:60]}-{suffix}"
                    suffix += 1
            elif not VALID_ID.fullmatch(bot_id):
                raise ValueError(
                    f"{bot_id!r} is not a valid bot id: use lower-case letters, digits and "
                    "dashes (at most 64)"
                )
            elif await session.get(Bot, bot_id) is not None:
                raise BotNameTaken(bot_id)
            creator_id = await creator_for(session, *creator, name="local") if creator else None
            session.add(
                Bot(id=bot_id, name=name, persona=persona, greeting=greeting, creator_id=creator_id)
            )
        self._cache.pop(bot_id, None)
        return await self.get(bot_id)

    async def ensure_demo(self) -> bool:
        """Create the demo bot if the database has no bots at all; True if it did."""
        async with self._db.read() as session:
            if await session.scalar(select(Bot.id).limit(1)) is not None:
                return False
        try:
            await self.create(
                DEMO_BOT.name,
                persona=DEMO_BOT.persona,
                greeting=DEMO_BOT.greeting,
                bot_id=DEMO_BOT.id,
            )
        except (BotNameTaken, IntegrityError):
            return False  # another process created it first
        return True
