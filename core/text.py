"""Small text helpers shared by the composer, the lexical index and the replies, and
language tags as the server keeps them.

Every language code that comes from outside (Telegram's ``language_code``, a browser's
``navigator.language``, ``/language pt_BR``, a creator's settings) is read by
:func:`normalise`: a BCP-47-like tag in lower case with ``-`` between its parts
(``pt-BR`` -> ``pt-br``, ``EN`` -> ``en``), or None when it is no such tag. A bot speaks
the :data:`SHIPPED` languages unless its creator offers fewer.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Common English function words: they say nothing about what a question is about.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves""".split()
)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 passage``, ``3 passages``: a number with its noun in the right form."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


#: the languages the bot's own messages are written in, in the order they are listed
SHIPPED = ("en", "es", "pt", "de", "fr", "ru", "uk", "tr")
DEFAULT = "en"
MAX_TAG = 35  # RFC 5646 suggests room for at least 35 characters

# a primary language of 2-3 letters, then up to a few subtags (script, region, variant)
_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8}){0,4}")


def normalise(tag: object) -> str | None:
    """``pt-BR`` -> ``pt-br``, ``EN`` -> ``en``, ``zh_Hant_TW`` -> ``zh-hant-tw``; None
    for anything that is not a language tag (not a string, too long, other characters)."""
    if not isinstance(tag, str) or not 0 < len(tag) <= MAX_TAG:
        return None
    code = tag.strip().lower().replace("_", "-")
    return code if _TAG.fullmatch(code) else None


def primary(code: str) -> str:
    """The language of a tag without its region or script: ``pt-br`` -> ``pt``."""
    return code.split("-", 1)[0]


def matching(code: str | None, offered: tuple[str, ...]) -> str | None:
    """The offered language a user's tag asks for: the tag itself when offered, else its
    primary language (``pt-br`` finds ``pt``), else an offered variant of it (``pt``
    finds ``pt-br``), else None."""
    if code is None:
        return None
    if code in offered:
        return code
    base = primary(code)
    if base in offered:
        return base
    return next((tag for tag in offered if primary(tag) == base), None)


@lru_cache(maxsize=256)
def native_name(code: str) -> str:
    """The language's name in itself, capitalised: ``es`` -> ``Español``, ``ru`` ->
    ``Русский``; the code itself when Babel does not know it."""
    from babel import Locale, UnknownLocaleError  # loaded on first use: not at start-up

    try:
        name = Locale.parse(code, sep="-").get_display_name(Locale.parse(code, sep="-"))
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return name[:1].upper() + name[1:] if name else code


@lru_cache(maxsize=1024)
def language_name(code: str, language: str) -> str:
    """The name of the language ``code`` as ``language`` writes it, standing alone
    (``es`` in German: ``Spanisch``; in Russian: ``испанский``; in English: ``Spanish``);
    the code itself when Babel knows no such name."""
    from babel import Locale, UnknownLocaleError

    try:
        names = Locale.parse(primary(language)).languages
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return str(names.get(primary(code), code))


def is_known(code: str) -> bool:
    """Whether Babel knows the tag's language (``xx``, ``qq`` and ``und`` are no
    languages)."""
    from babel import Locale, UnknownLocaleError

    if primary(code) in ("und", "mul", "zxx"):  # undetermined, several, none
        return False
    try:
        Locale.parse(code, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True
