"""Each shipped language's words for the guided flow's answers: one module a language.

:mod:`core.conversation.reading` compiles them all together, so an answer is understood
whichever of these languages it is in, even when the user's language is not known.
"""

from __future__ import annotations

from core.conversation.words import de, en, es, fr, pt, ru, tr, uk
from core.conversation.words.lexicon import Lexicon, Terms

LEXICONS: tuple[Lexicon, ...] = (
    en.LEXICON,
    es.LEXICON,
    pt.LEXICON,
    de.LEXICON,
    fr.LEXICON,
    ru.LEXICON,
    uk.LEXICON,
    tr.LEXICON,
)

__all__ = ["LEXICONS", "Lexicon", "Terms"]
