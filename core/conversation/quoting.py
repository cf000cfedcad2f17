"""Saying so when an answer quotes notes written in another language than the user's.

Without a language model, answers quote the bot's material word for word
(:class:`core.generation.composer.GroundedComposer`), so a Spanish user may be answered
in English. The first such answer of a conversation says it, in the user's language
("(Cito mis notas en inglés.)"); the conversation's context remembers which languages
have been pointed out, so later answers quote without repeating it. A passage's
language is read from its text by the offline identifier (:mod:`core.people.langid`),
once per passage: the result is cached.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import MutableMapping, Sequence
from typing import Any

from core.i18n.translator import Translator
from core.messages import Source
from core.people.langid import LanguageIdentifier
from core.text import SHIPPED, language_name, primary
from knowledge.passages import Passage

#: the conversation context's list of the notes' languages the user has been told of
NOTED = "quoted_languages"
#: the languages a passage is read as: those the bot speaks and the other common ones
#: (restricted to these, a passage in Italian is not taken for Spanish)
DOCUMENT_LANGUAGES = (
    *SHIPPED,
    *"it nl pl cs sk sv da no fi ro hu el bg sr hr sl lt lv et ca eu gl".split(),
    *"ar he fa hi bn ur zh ja ko vi th id ms sw".split(),
)
CACHED = 4096  # passages whose language is kept


class SourceLanguages:
    """The language of passages, read once each, and the note an answer quoting them
    owes a user who speaks another."""

    def __init__(self, identifier: LanguageIdentifier | None = None) -> None:
        self._identifier = identifier or LanguageIdentifier()
        self._known: OrderedDict[tuple[str | None, int], str | None] = OrderedDict()

    async def language(self, passage: Passage) -> str | None:
        """The passage's language (a primary code), or None when its text does not say
        clearly enough."""
        key = (passage.document_id, hash(passage.text))
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        if self._identifier.loaded:
            guess = self._identifier.guess(passage.text, DOCUMENT_LANGUAGES)
        else:  # the first passage read loads the model: off the event loop
            guess = await asyncio.to_thread(
                self._identifier.guess, passage.text, DOCUMENT_LANGUAGES
            )
        found = guess.language if guess else None
        self._known[key] = found
        if len(self._known) > CACHED:
            self._known.popitem(last=False)
        return found

    async def note(
        self,
        context: MutableMapping[str, Any],
        tr: Translator,
        user: str,
        passages: Sequence[Passage],
        sources: Sequence[Source],
    ) -> str | None:
        """What to add to an answer quoting ``sources`` (of ``passages``) for a user who
        speaks ``user`` (spoken to with ``tr``): that the notes are in another language,
        the first time the conversation (``context``, updated) meets that language;
        else None."""
        noted = context.get(NOTED)
        told = [code for code in noted if isinstance(code, str)] if isinstance(noted, list) else []
        for passage in _cited(passages, sources):
            language = await self.language(passage)
            if language is None or language == primary(user) or language in told:
                continue  # the user's own, or one they know the notes are quoted in
            context[NOTED] = [*told, language]
            return tr.gettext(
                "(I quote my notes as they are written, in %(language)s.)",
                language=language_name(language, tr.language),
            )
        return None


def _cited(passages: Sequence[Passage], sources: Sequence[Source]) -> list[Passage]:
    """The passages the sources name, in the order they are cited."""
    cited = []
    for source in sources:
        for passage in passages:
            if passage.document_id == source.document_id and (
                source.excerpt is None or passage.text.startswith(source.excerpt)
            ):
                cited.append(passage)
                break
    return cited
