"""A bot as the engine and generators see it: who it is and how it greets people."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from billing.pricing import Pricing

MAX_BOT_ID = 64


@dataclass(frozen=True, slots=True)
class Features:
    """What a bot offers besides answering from its material; its creator switches each
    on or off (a support bot, say, makes no meditations). All are on by default."""

    # guided creation of personalised meditations, affirmations and rituals (/create)
    create: bool = True

    @classmethod
    def from_dict(cls, data: object) -> Features:
        """The features as kept in the bot's settings; anything unreadable is on."""
        if not isinstance(data, dict):
            return cls()
        return cls(create=data.get("create") is not False)

    def to_dict(self) -> dict[str, bool] | None:
        """The features to keep in the bot's settings (None: all on, nothing to keep)."""
        return None if self == Features() else {"create": self.create}


@dataclass(frozen=True, slots=True)
class BotProfile:
    """A creator's agent: its id, display name, persona (voice and tone) and greeting."""

    id: str
    name: str
    persona: str = ""
    greeting: str = ""
    paused: bool = False
    # (channel, external id) pairs of the creator: their messages unlock creator commands
    creator_identities: frozenset[tuple[str, str]] = frozenset()
    # what content and questions cost, the packs and tiers on sale (free by default)
    pricing: Pricing = field(default_factory=Pricing)
    # the creator's account (None for a bot nobody owns)
    creator_id: int | None = None
    # what it offers besides answers (guided creation), as its creator switched them
    features: Features = field(default_factory=Features)

    def is_creator(self, channel: str, external_id: str) -> bool:
        """Whether this sender is the bot's creator."""
        return (channel, external_id) in self.creator_identities

    @property
    def welcome(self) -> str:
        """The greeting, or a plain introduction when the creator has not written one."""
        return self.greeting or f"Hi, I'm {self.name}."


def slugify(name: str, *, limit: int = MAX_BOT_ID, default: str = "bot") -> str:
    """A bot id (or a file name) from a display name: lower-case ASCII letters, digits
    and dashes, at most ``limit`` long; ``default`` when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:limit].rstrip("-") or default
