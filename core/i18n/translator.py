"""The bot's own words in the end user's language: gettext catalogues made with Babel.

English is the source: every message is written in English in the code (``msgid``) and
translated in ``core/i18n/locales/<lang>/LC_MESSAGES/chorus.po``, compiled to the ``.mo`` next to
it (both ship as package data). :func:`translator` gives the :class:`Translator` of a
language code as a user's channel or ``/language`` states it (``es``, ``pt-BR``,
``pt_br``): the closest catalogue, ``pt-BR`` falling back to ``pt``, anything unknown or
malformed to English. Catalogues are loaded once per process and locale.

Messages take named placeholders only (``%(name)s``), so a translation may reorder them,
and a sentence is always one message: a noun that changes a sentence (a content type) gets
a whole sentence per value rather than a translated fragment put into an English frame.
The turn carries its translator (:attr:`core.conversation.turn.TurnResult.tr`); nothing
here is global but the read-only catalogue cache.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from datetime import date
from pathlib import Path
from typing import Final

# Babel is imported where a language other than English needs it: not at start-up

DOMAIN: Final = "chorus"
LOCALES: Final = Path(__file__).parent / "locales"
SOURCE_LANGUAGE: Final = "en"
_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$")


def N_(message: str) -> str:  # gettext's own name for a marker
    """Mark ``message`` for extraction without translating it yet (``gettext_noop``):
    for texts defined at import time and translated where they are shown."""
    return message


class Translator:
    """The messages, numbers and dates of one language; English when nothing is loaded."""

    __slots__ = ("_catalogue", "language")

    def __init__(self, language: str, catalogue: gettext.NullTranslations) -> None:
        self.language = language
        self._catalogue = catalogue

    def gettext(self, message: str, **params: object) -> str:
        """``message`` translated, its ``%(name)s`` placeholders filled from ``params``."""
        text = self._catalogue.gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        """The form of ``singular``/``plural`` for ``n`` in this language (Russian has
        three); ``%(count)s`` is ``n`` as this language writes numbers."""
        text = self._catalogue.ngettext(singular, plural, n)
        return text % {"count": self.number(n), **params}

    def number(self, n: int) -> str:
        """``n`` with this language's digit grouping: ``4,001``, ``4.001``, ``4 001``."""
        if self.language == SOURCE_LANGUAGE:
            return f"{n:,}"
        from babel.numbers import format_decimal

        return format_decimal(n, locale=self.language)

    def percent(self, share: float) -> str:
        """A share as a percentage: ``40%``, ``40 %``, ``%40``."""
        if self.language == SOURCE_LANGUAGE:
            return f"{share:.0%}"
        from babel.numbers import format_percent

        return format_percent(share, locale=self.language)

    def day(self, when: date) -> str:
        """A date the short way: ``07 Dec 2026``, ``7 dic 2026``."""
        if self.language == SOURCE_LANGUAGE:
            return f"{when:%d %b %Y}"
        from babel.dates import format_date

        return format_date(when, "d MMM y", locale=self.language)

    def day_month(self, when: date) -> str:
        """A day of the year the short way: ``07 Dec``, ``7 dic``."""
        if self.language == SOURCE_LANGUAGE:
            return f"{when:%d %b}"
        from babel.dates import format_date

        return format_date(when, "d MMM", locale=self.language)

    def __repr__(self) -> str:
        return f"Translator({self.language!r})"


ENGLISH: Final = Translator(SOURCE_LANGUAGE, gettext.NullTranslations())


def available() -> frozenset[str]:
    """The locales with a shipped catalogue (``es``, ``pt``…), English not among them."""
    return _available()


@functools.cache
def _available() -> frozenset[str]:
    if not LOCALES.is_dir():
        return frozenset()
    return frozenset(
        entry.name
        for entry in LOCALES.iterdir()
        if (entry / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()
        or (entry / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()
    )


def locale_for(language: str | None) -> str:
    """The catalogue to use for a language code: ``pt-BR`` gives ``pt_BR`` if it ships,
    else ``pt``; anything without a catalogue (or not a language code) ``en``."""
    if not language or len(language) > 35:
        return SOURCE_LANGUAGE
    code = language.strip().lower()
    if not _CODE.match(code):
        return SOURCE_LANGUAGE
    parts = re.split("[-_]", code)
    shipped = _available()
    if len(parts) > 1 and (regional := f"{parts[0]}_{parts[-1].upper()}") in shipped:
        return regional
    return parts[0] if parts[0] in shipped else SOURCE_LANGUAGE


def translator(language: str | None) -> Translator:
    """The translator for a user's language code (None: the bot's default, English)."""
    return _load(locale_for(language))


@functools.cache  # bounded: one entry per shipped catalogue, plus English
def _load(locale: str) -> Translator:
    if locale == SOURCE_LANGUAGE:
        return ENGLISH
    return load_catalogue(LOCALES, locale)


def load_catalogue(locales: Path, locale: str) -> Translator:
    """The translator of ``locales/<locale>/LC_MESSAGES/chorus.mo``, or of its ``.po``
    compiled in memory when the ``.mo`` is missing (a source checkout never compiled)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    folder = locales / locale / "LC_MESSAGES"
    compiled = folder / f"{DOMAIN}.mo"
    if compiled.is_file():
        with compiled.open("rb") as fp:
            return Translator(locale, Translations(fp, domain=DOMAIN))
    with (folder / f"{DOMAIN}.po").open("rb") as fp:
        catalogue = read_po(fp, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translator(locale, Translations(buffer, domain=DOMAIN))
