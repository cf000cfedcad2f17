"""Creating, listing and looking up bots."""

from __future__ import annotations

import builtins
import logging
import re
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.pricing import Pricing, PricingError
from bots.demo import DEMO_BOT, DEMO_LANGUAGES
from bots.profile import BotLanguages, BotProfile, Features, slugify
from core.errors import BotNameTaken, Refusal, UnknownBot
from core.i18n.translator import N_
from core.storage.database import Database
from core.storage.models import Bot, Creator, CreatorIdentity

log = logging.getLogger("chorus.bots")

CACHE_SECONDS = 5.0
MAX_NAME = 200
MAX_TEXT = 4000
VALID_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: ids no creator's bot may take: the manager bot's webhook lives at this bot id
MANAGER_ID = "manager"
RESERVED_IDS = frozenset({MANAGER_ID})


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
        pricing=_pricing(row),
        creator_id=row.creator_id,
        features=Features.from_dict((row.settings or {}).get("features")),
        languages=BotLanguages.from_dict((row.settings or {}).get("languages")),
    )


def _pricing(row: Bot) -> Pricing:
    try:
        return Pricing.from_dict((row.settings or {}).get("pricing"))
    except PricingError as exc:
        log.error("bot %s has unusable pricing, so it is free for now: %s", row.id, exc)
        return Pricing()


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

    async def owned(self, creator_id: int) -> builtins.list[BotProfile]:
        """The bots of a creator's account, oldest first."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Bot).where(Bot.creator_id == creator_id).order_by(Bot.created_at, Bot.id)
            )
            return [await _profile(session, r) for r in rows]

    async def delete(self, bot_id: str) -> None:
        """Delete a bot and everything stored with it (its users, conversations, content,
        credits); its documents' vectors are the knowledge base's to delete first."""
        async with self._db.transaction() as session:
            row = await session.get(Bot, bot_id)
            if row is None:
                raise UnknownBot(bot_id)
            await session.delete(row)
        self._cache.pop(bot_id, None)

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
        creator_name: str = "local",
        owner: int | None = None,
        languages: BotLanguages | None = None,
    ) -> BotProfile:
        """Create a bot; its id is ``bot_id`` or a slug of the name made unique.

        ``creator`` is the (channel, external id) of the person creating it; the new bot
        becomes the one their manager-bot commands apply to. ``owner``, a creator's
        account id (the REST API), is used instead when given. ``languages``: the
        languages it speaks, when not every shipped one with its own greeting and persona.
        """
        name = _name(name)
        settings: dict[str, Any] = {}
        if languages is not None and (kept := languages.to_dict()) is not None:
            settings["languages"] = kept
        async with self._db.transaction() as session:
            if bot_id is None:
                bot_id = base = slugify(name)
                suffix = 2
                while bot_id in RESERVED_IDS or await session.get(Bot, bot_id) is not None:
                    bot_id = f"{base[:60]}-{suffix}"
                    suffix += 1
            elif not VALID_ID.fullmatch(bot_id) or bot_id in RESERVED_IDS:
                raise Refusal(
                    N_(
                        "%(id)s is not a valid bot id: use lower-case letters, digits and "
                        "dashes (at most 64), and not %(reserved)s."
                    ),
                    id=repr(bot_id),
                    reserved=", ".join(sorted(RESERVED_IDS)),
                )
            elif await session.get(Bot, bot_id) is not None:
                raise BotNameTaken(bot_id)
            creator_id = owner
            if creator_id is None and creator is not None:
                creator_id = await creator_for(session, *creator, name=creator_name)
            session.add(
                Bot(
                    id=bot_id,
                    name=name,
                    persona=persona,
                    greeting=greeting,
                    creator_id=creator_id,
                    settings=settings,
                )
            )
            if creator_id is not None:
                await session.execute(
                    update(Creator).where(Creator.id == creator_id).values(current_bot_id=bot_id)
                )
        self._cache.pop(bot_id, None)
        return await self.get(bot_id)

    async def update(
        self,
        bot_id: str,
        *,
        persona: str | None = None,
        greeting: str | None = None,
        paused: bool | None = None,
        name: str | None = None,
    ) -> BotProfile:
        """Change a bot's name, persona, greeting or paused flag (``None`` keeps a value)."""
        values: dict[str, object] = {}
        if name is not None:
            values["name"] = _name(name)
        if persona is not None:
            values["persona"] = _limited(persona, "persona")
        if greeting is not None:
            values["greeting"] = _limited(greeting, "greeting")
        if paused is not None:
            values["paused"] = paused
        if not values:
            return await self.get(bot_id)
        async with self._db.transaction() as session:
            changed = await session.execute(update(Bot).where(Bot.id == bot_id).values(**values))
            if not changed.rowcount:  # type: ignore[attr-defined]
                raise UnknownBot(bot_id)
        self._cache.pop(bot_id, None)
        return await self.get(bot_id)

    async def settings(self, bot_id: str) -> dict[str, Any]:
        """A bot's settings (widget theme, allowed origins); raises UnknownBot."""
        async with self._db.read() as session:
            row = await session.get(Bot, bot_id)
            if row is None:
                raise UnknownBot(bot_id)
            return dict(row.settings or {})

    async def change_settings(self, bot_id: str, **values: Any) -> dict[str, Any]:
        """Set some of a bot's settings (``None`` removes one); returns them all."""
        async with self._db.transaction() as session:
            row = await session.get(Bot, bot_id)
            if row is None:
                raise UnknownBot(bot_id)
            merged = {**(row.settings or {}), **values}
            row.settings = {k: v for k, v in merged.items() if v is not None}
            settings = dict(row.settings)
        self._cache.pop(bot_id, None)
        return settings

    async def link_identity(self, bot_id: str, channel: str, external_id: str) -> bool:
        """Recognise ``external_id`` on ``channel`` as the creator of ``bot_id`` from now on
        (for all their bots); False if it already belongs to another creator."""
        async with self._db.transaction() as session:
            creator_id = await session.scalar(select(Bot.creator_id).where(Bot.id == bot_id))
            if creator_id is None:
                raise UnknownBot(bot_id)
            owner = await session.scalar(
                select(CreatorIdentity.creator_id).where(
                    CreatorIdentity.channel == channel, CreatorIdentity.external_id == external_id
                )
            )
            if owner is not None:
                return owner == creator_id
            session.add(
                CreatorIdentity(creator_id=creator_id, channel=channel, external_id=external_id)
            )
        self._cache.clear()
        return True

    async def owned_by(self, channel: str, external_id: str) -> builtins.list[BotProfile]:
        """The bots of the creator known by this identity, oldest first."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Bot)
                .join(CreatorIdentity, CreatorIdentity.creator_id == Bot.creator_id)
                .where(
                    CreatorIdentity.channel == channel,
                    CreatorIdentity.external_id == external_id,
                )
                .order_by(Bot.created_at, Bot.id)
            )
            return [await _profile(session, r) for r in rows]

    async def choose(self, channel: str, external_id: str, bot_id: str) -> BotProfile:
        """Make ``bot_id`` the bot this creator's commands apply to; it must be theirs."""
        mine = {b.id: b for b in await self.owned_by(channel, external_id)}
        if bot_id not in mine:
            raise UnknownBot(bot_id)
        async with self._db.transaction() as session:
            creator_id = await creator_for(session, channel, external_id, name="")
            await session.execute(
                update(Creator).where(Creator.id == creator_id).values(current_bot_id=bot_id)
            )
        return mine[bot_id]

    async def chosen(self, channel: str, external_id: str) -> BotProfile | None:
        """The bot this creator's commands apply to: the one they chose, else their
        newest; None for someone with no bots."""
        mine = await self.owned_by(channel, external_id)
        if not mine:
            return None
        async with self._db.read() as session:
            current = await session.scalar(
                select(Creator.current_bot_id)
                .join(CreatorIdentity, CreatorIdentity.creator_id == Creator.id)
                .where(
                    CreatorIdentity.channel == channel,
                    CreatorIdentity.external_id == external_id,
                )
            )
        return next((b for b in mine if b.id == current), mine[-1])

    async def ensure_demo(self) -> bool:
        """Create the demo bot if the database has no bots at all, speaking every shipped
        language; True if it did."""
        async with self._db.read() as session:
            if await session.scalar(select(Bot.id).limit(1)) is not None:
                return False
        try:
            await self.create(
                DEMO_BOT.name,
                persona=DEMO_BOT.persona,
                greeting=DEMO_BOT.greeting,
                bot_id=DEMO_BOT.id,
                languages=DEMO_LANGUAGES,
            )
        except (BotNameTaken, IntegrityError):
            return False  # another process created it first
        return True


#: what a text too long says, per field (one whole sentence each)
TOO_LONG = {
    "persona": N_("A persona can be at most %(limit)s characters."),
    "greeting": N_("A greeting can be at most %(limit)s characters."),
}


def _limited(text: str, what: str) -> str:
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise Refusal(TOO_LONG[what], limit=MAX_TEXT)
    return text


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Refusal(N_("An agent needs a name."))
    if len(name) > MAX_NAME:
        raise Refusal(N_("An agent's name can be at most %(limit)s characters."), limit=MAX_NAME)
    return name
