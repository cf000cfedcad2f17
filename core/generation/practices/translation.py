"""The practice library in the listener's language: gettext catalogues of its lines.

Every line of the library, and every sentence the composer builds around it, is an
English message id in the ``practices`` gettext domain; a language's catalogue lives in
``locales/<lang>/LC_MESSAGES/practices.po`` and is compiled to ``.mo`` with Babel
(``python -m core.generation.practices.catalogue``). Only the languages whose catalogue
is complete (:data:`SHIPPED`, checked by the tests) are used: any other language, or
none, gets the English library unchanged.
"""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.generation.practices.frames import WAKING, waking_in

DOMAIN = "practices"
LOCALES = Path(__file__).with_name("locales")
#: the languages whose catalogue translates every line of the library
SHIPPED: tuple[str, ...] = ("es", "ru", "de", "fr", "pt", "uk", "tr")


@dataclass(frozen=True, slots=True)
class Translator:
    """The library's words in one language: each English line's translation, and what a
    bedtime piece must never say in that language."""

    language: str
    catalogue: gettext.NullTranslations
    waking: re.Pattern[str]

    def __call__(self, line: str) -> str:
        """The line in this language (the English line when the catalogue lacks it)."""
        return self.catalogue.gettext(line)

    def say(self, template: str, **values: object) -> str:
        """A whole sentence with named placeholders, translated, then filled in."""
        return self(template).format(**values)


ENGLISH = Translator("en", gettext.NullTranslations(), WAKING)


def language_of(code: str | None) -> str:
    """The shipped language for a user's language code: ``pt-br`` -> ``pt`` when only
    ``pt`` is shipped; English ("en") for none, an unknown code or an incomplete one."""
    if not code:
        return "en"
    normal = code.strip().lower().replace("_", "-")
    for candidate in (normal, normal.split("-")[0]):
        if candidate in SHIPPED:
            return candidate
    return "en"


@cache
def translator(code: str | None) -> Translator:
    """The library's words for a user's language code (English when not shipped)."""
    language = language_of(code)
    if language == "en":
        return ENGLISH
    catalogue = gettext.translation(DOMAIN, LOCALES, languages=[language])
    return Translator(language, catalogue, waking_in(language))
