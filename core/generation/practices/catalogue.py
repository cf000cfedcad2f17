"""The English message ids of the practice library, and its gettext catalogues.

Every line a piece may say, every sentence the composer builds around the lines (with
named placeholders), and every case of a sentence the English builds from parts (an
intention for each occasion: "as you prepare for tomorrow's interview") is one message
id, so a translator writes whole sentences. ``python -m core.generation.practices.catalogue``
writes the template ``locales/practices.pot``, merges it into each language's ``.po``
(new lines untranslated, lines gone dropped) and compiles the ``.mo`` files with Babel.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from core.generation.practices import frames
from core.generation.practices.affirmations import AFFIRMATIONS
from core.generation.practices.rituals import STEPS
from core.generation.practices.techniques import TECHNIQUES
from core.generation.practices.themes import OCCASIONS, THEMES
from core.generation.practices.translation import DOMAIN, LOCALES

_PLACEHOLDER = re.compile(r"\{(\w*)\}")
# a fixed date in the headers: remaking the catalogues of an unchanged library changes
# no file
_CREATED = datetime(2026, 12, 7, tzinfo=UTC)


def msgids() -> list[str]:
    """Every English line and sentence of the library, once each, in reading order."""
    return list(dict.fromkeys(_lines()))


def placeholders(text: str) -> list[str]:
    """The named placeholders of a line, sorted: a translation keeps the same ones."""
    return sorted(_PLACEHOLDER.findall(text))


def _lines() -> Iterator[str]:
    yield frames.GREETING
    yield frames.SIGN_OFF
    yield from frames.WELCOMES.values()
    yield from frames.TITLES.values()
    yield from frames.MOMENTS.values()
    yield frames.HERE_FOR_YOU
    yield frames.RITUAL_FOR_YOU
    for variants in (*frames.SETTLING.values(), *frames.CLOSINGS.values()):
        for lines in variants:
            yield from (cue.text for cue in lines)
    for _stems, lines in frames.FEELINGS:
        yield from (cue.text for cue in lines)
    yield from (cue.text for cue in frames.NO_FEELING)
    yield from frames.SCENE_LEADS
    yield from frames.ROUNDS_LEADS
    yield from (cue.text for cue in frames.INTERLUDES)
    yield from (cue.text for cue in frames.AFFIRMATIONS_GUIDE)
    for theme in THEMES:
        for phrase in (theme.title, theme.intention):
            if "{occasion}" in phrase:
                # each case its own sentence: languages build these phrases differently
                yield from (phrase.format(occasion=said) for said in (*OCCASIONS, "your"))
            else:
                yield phrase
        yield from (cue.text for cue in theme.scene)
    for technique in TECHNIQUES:
        yield technique.name
        yield from (cue.text for cue in (*technique.intro, *technique.cycle, *technique.outro))
    for affirmations in AFFIRMATIONS.values():
        yield from affirmations
    for step in STEPS:
        yield step.name
        yield step.summary
        yield from (cue.text for cue in step.lines)
    yield from (frames.AFFIRM_STEP, frames.AFFIRM_SUMMARY, frames.AFFIRM_LEAD)
    yield from (frames.MEDITATE_STEP, frames.MEDITATE_SUMMARY, frames.THEN)
    yield from (frames.RITUAL_LINE, frames.SECONDS, frames.MINUTES)


def po_path(language: str) -> Path:
    """Where a language's catalogue of the library lives."""
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def template() -> Catalog:
    """The catalogue of every message id, untranslated."""
    catalog = Catalog(domain=DOMAIN, project="chorus", fuzzy=False, creation_date=_CREATED)
    for msgid in msgids():
        catalog.add(msgid, flags=("python-brace-format",) if placeholders(msgid) else ())
    return catalog


def update() -> None:
    """Write the template, merge it into every language's catalogue, compile the .mo."""
    with (LOCALES / f"{DOMAIN}.pot").open("wb") as out:
        write_po(out, template(), omit_header=False, width=100)
    for po in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as source:
            catalog = read_po(source)
        catalog.update(template(), no_fuzzy_matching=True)
        with po.open("wb") as out:
            write_po(out, catalog, width=100, ignore_obsolete=True)
        with po.with_suffix(".mo").open("wb") as out:
            write_mo(out, catalog)


if __name__ == "__main__":
    update()
