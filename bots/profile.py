"""A bot as the engine and generators see it: who it is and how it greets people."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from billing.pricing import Pricing
from core.errors import Refusal
from core.i18n.translator import N_
from core.text import DEFAULT, SHIPPED, is_known, matching, normalise

MAX_BOT_ID = 64
NOT_A_CODE = N_("%(code)s isn't a language code")
MAX_LANGUAGE_TEXT = 4000  # a greeting or persona in one language, as the bot's own


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


class LanguageError(Refusal):
    """Language settings that cannot be kept: an unknown code, a default not offered.
    ``template`` and ``params`` say it in the creator's language."""


def _texts(data: object) -> Mapping[str, str]:
    """A mapping language -> text, keeping the entries with a language tag and a text."""
    if not isinstance(data, Mapping):
        return MappingProxyType({})
    kept = {}
    for key, text in data.items():
        code = normalise(key)
        if code is not None and isinstance(text, str) and text.strip():
            kept[code] = text.strip()
    return MappingProxyType(kept)


@dataclass(frozen=True, slots=True)
class BotLanguages:
    """The languages a bot speaks, as its creator set them: the ones it offers (a subset
    of :data:`core.text.SHIPPED` by default all of them), the default for users whose
    language it does not offer, and its greeting and persona in other languages (any
    language left out uses the bot's own greeting and persona)."""

    default: str = DEFAULT
    offered: tuple[str, ...] = SHIPPED
    greetings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    personas: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not self.offered or self.default not in self.offered:
            raise LanguageError(
                N_("the default language %(code)s must be one it offers"), code=self.default
            )

    @classmethod
    def parse(
        cls,
        *,
        default: object = DEFAULT,
        offered: object = SHIPPED,
        greetings: object = None,
        personas: object = None,
        strict: bool = True,
    ) -> BotLanguages:
        """Settings from outside, checked: codes normalised (``pt-BR`` -> ``pt-br``),
        anything that is no language (``xx``) refused with :class:`LanguageError`, and,
        when ``strict``, texts longer than a greeting may be."""
        if not isinstance(offered, list | tuple) or not offered:
            raise LanguageError(N_("a bot offers at least one language"))
        codes = []
        for item in offered:
            code = normalise(item)
            if code is None or (strict and not is_known(code)):
                raise LanguageError(NOT_A_CODE, code=repr(str(item)[:20]))
            if code not in codes:
                codes.append(code)
        chosen = normalise(default)
        if chosen is None:
            raise LanguageError(NOT_A_CODE, code=repr(str(default)[:20]))
        for name, texts in (("greetings", greetings), ("personas", personas)):
            if texts is not None and not isinstance(texts, Mapping):
                raise LanguageError(N_("%(what)s map a language to a text"), what=name)
            for key, text in (texts or {}).items():
                if normalise(key) is None:
                    raise LanguageError(NOT_A_CODE, code=repr(str(key)[:20]))
                if not isinstance(text, str):
                    raise LanguageError(N_("%(what)s map a language to a text"), what=name)
                if strict and len(text.strip()) > MAX_LANGUAGE_TEXT:
                    raise LanguageError(
                        N_("a greeting or persona can be at most %(most)s characters"),
                        most=f"{MAX_LANGUAGE_TEXT:,}",
                    )
        return cls(chosen, tuple(codes), _texts(greetings), _texts(personas))

    @classmethod
    def from_dict(cls, data: object) -> BotLanguages:
        """The languages as kept in the bot's settings; anything unreadable is the default."""
        if not isinstance(data, Mapping):
            return cls()
        try:
            return cls.parse(
                default=data.get("default", DEFAULT),
                offered=data.get("offered", list(SHIPPED)),
                greetings=data.get("greetings"),
                personas=data.get("personas"),
                strict=False,
            )
        except LanguageError:
            return cls()

    def to_dict(self) -> dict[str, object] | None:
        """The languages to keep in the bot's settings (None: the defaults)."""
        if self == BotLanguages():
            return None
        return {
            "default": self.default,
            "offered": list(self.offered),
            "greetings": dict(self.greetings),
            "personas": dict(self.personas),
        }

    def resolve(self, code: str | None) -> str:
        """The language to speak to a user whose language is ``code``: the offered one it
        asks for (``pt-br`` finds ``pt``), else the default."""
        return matching(normalise(code), self.offered) or self.default

    def greeting(self, language: str) -> str | None:
        """The greeting written for ``language`` (or its primary language), if any."""
        return _for(self.greetings, language)

    def persona(self, language: str) -> str | None:
        """The persona written for ``language`` (or its primary language), if any."""
        return _for(self.personas, language)


def _for(texts: Mapping[str, str], language: str) -> str | None:
    code = matching(language, tuple(texts))
    return texts[code] if code is not None else None


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
    # the languages it speaks and its greeting and persona in each
    languages: BotLanguages = field(default_factory=BotLanguages)

    def is_creator(self, channel: str, external_id: str) -> bool:
        """Whether this sender is the bot's creator."""
        return (channel, external_id) in self.creator_identities

    @property
    def welcome(self) -> str:
        """The greeting, or a plain introduction when the creator has not written one."""
        return self.greeting or f"Hi, I'm {self.name}."

    def speaking(self, language: str) -> BotProfile:
        """The bot as it talks to a user in ``language`` (one it offers): its greeting and
        persona in that language where the creator wrote them, else its own."""
        greeting = self.languages.greeting(language)
        persona = self.languages.persona(language)
        if greeting is None and persona is None:
            return self
        return replace(
            self,
            greeting=greeting if greeting is not None else self.greeting,
            persona=persona if persona is not None else self.persona,
        )


def slugify(name: str, *, limit: int = MAX_BOT_ID, default: str = "bot") -> str:
    """A bot id (or a file name) from a display name: lower-case ASCII letters, digits
    and dashes, at most ``limit`` long; ``default`` when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:limit].rstrip("-") or default
