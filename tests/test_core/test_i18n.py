"""The gettext catalogues: complete, in step with the code, and loaded the right way.

Each shipped catalogue must translate every message of the template (no empty or fuzzy
entry, the plural forms its language has, the same placeholders as the English), the
committed template must hold exactly the messages the code marks today, and each compiled
``.mo`` must say what its ``.po`` says.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from core.i18n import translator as i18n
from core.i18n.translator import ENGLISH, LOCALES, available, load_catalogue, locale_for, translator

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = LOCALES / "chorus.pot"
SHIPPED = ("de", "es", "fr", "pt", "ru", "tr", "uk")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


def _ids(catalogue: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalogue if m.id}


def _pairs(catalogue: Catalog) -> set[tuple[object, object]]:
    """Each message's id and translation (plural forms as tuples, as .po and .mo differ)."""

    def plain(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {(plain(m.id), plain(m.string)) for m in catalogue if m.id}


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _problems(message: Message, plurals: int) -> list[str]:
    """What is wrong with one translated message, in words for the failure report."""
    source = message.id[-1] if isinstance(message.id, tuple) else message.id
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    found = []
    if message.fuzzy:
        found.append("fuzzy")
    if isinstance(message.id, tuple) and len(forms) != plurals:
        found.append(f"{len(forms)} plural forms, not {plurals}")
    for form in forms:
        if not form or not form.strip():
            found.append("empty translation")
        elif _placeholders(form) != _placeholders(source):
            found.append(f"placeholders {_placeholders(form)} in {form!r}")
        if source.count("\n") != form.count("\n"):
            found.append(f"line breaks differ in {form!r}")
    return found


def test_the_shipped_languages_are_the_catalogues() -> None:
    assert available() == frozenset(SHIPPED)


def test_every_catalogue_file_is_package_data() -> None:
    """An installed wheel has the catalogues: pyproject's package data covers each file."""
    with (ROOT / "pyproject.toml").open("rb") as fp:
        patterns = tomllib.load(fp)["tool"]["setuptools"]["package-data"]["core.i18n"]
    package = LOCALES.parent
    files = [p.relative_to(package) for p in LOCALES.rglob("*") if p.is_file()]
    assert len(files) == 1 + 2 * len(SHIPPED)  # the template, each .po and its .mo
    unshipped = [f for f in files if not any(f.match(pattern) for pattern in patterns)]
    assert not unshipped


@pytest.mark.parametrize("language", SHIPPED)
def test_a_catalogue_translates_every_message_of_the_template(language: str) -> None:
    template = _read(TEMPLATE)
    catalogue = _read(LOCALES / language / "LC_MESSAGES" / "chorus.po", language)
    assert not catalogue.fuzzy
    missing = [m.id for m in template if m.id and m.id not in catalogue]
    assert not missing, f"{language} lacks {missing}"
    problems = {
        str(m.id): found
        for m in catalogue
        if m.id and (found := _problems(m, catalogue.num_plurals))
    }
    assert not problems, f"{language}: {problems}"
    stale = _ids(catalogue) - _ids(template)
    assert not stale, f"{language} translates messages the code no longer has: {stale}"


@pytest.mark.parametrize("language", SHIPPED)
def test_a_compiled_catalogue_matches_its_source(language: str) -> None:
    folder = LOCALES / language / "LC_MESSAGES"
    source = _read(folder / "chorus.po", language)
    with (folder / "chorus.mo").open("rb") as fp:
        compiled = read_mo(fp)
    assert _pairs(compiled) == _pairs(source), (
        f"run pybabel compile -d core/i18n/locales -D chorus for {language}"
    )


def test_the_template_holds_what_the_code_marks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extracted = tmp_path / "chorus.pot"
    monkeypatch.chdir(ROOT)
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", "babel.cfg", "--no-location", "-o", str(extracted), "."]
    )
    now, committed = _ids(_read(extracted)), _ids(_read(TEMPLATE))
    assert now - committed == set(), "new messages: run pybabel extract and update (README)"
    assert committed - now == set(), "messages gone from the code: run pybabel extract"


def test_a_placeholder_mismatch_is_reported() -> None:
    """The completeness check can fail: a translation that drops a placeholder, a fuzzy
    one and one with a plural form short are each reported."""
    good = Message("Hello %(bot)s", "Hola %(bot)s")
    assert _problems(good, 2) == []
    assert _problems(Message("Hello %(bot)s", "Hola"), 2)
    assert _problems(Message("Hello %(bot)s", "Hola %(bot)s", flags=["fuzzy"]), 2) == ["fuzzy"]
    plural = Message(("%(count)s item", "%(count)s items"), ("%(count)s cosa",))
    assert _problems(plural, 2) == ["1 plural forms, not 2"]


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("es", "es"),
        ("ES", "es"),
        ("es-MX", "es"),
        ("pt-BR", "pt"),
        ("pt_br", "pt"),
        ("uk", "uk"),
        ("en", "en"),
        ("en-GB", "en"),
        ("ja", "en"),
        (None, "en"),
        ("", "en"),
        ("../../etc/passwd", "en"),
        ("es\x00", "en"),
        ("x" * 200, "en"),
    ],
)
def test_a_language_code_finds_its_catalogue_or_english(code: str | None, locale: str) -> None:
    assert locale_for(code) == locale
    assert translator(code).language == locale


def test_translators_are_loaded_once_per_locale() -> None:
    assert translator("pt-BR") is translator("pt")
    assert translator("ja") is ENGLISH
    assert i18n._load.cache_info().currsize <= len(SHIPPED) + 1


@pytest.mark.parametrize(
    ("language", "forms"),
    [
        ("ru", ("1 кредит", "2 кредита", "5 кредитов", "21 кредит", "11 кредитов")),
        ("uk", ("1 кредит", "2 кредити", "5 кредитів", "21 кредит", "11 кредитів")),
        ("es", ("1 crédito", "2 créditos", "5 créditos", "21 créditos", "11 créditos")),
        ("tr", ("1 kredin", "2 kredin", "5 kredin", "21 kredin", "11 kredin")),
        ("en", ("1 credit", "2 credits", "5 credits", "21 credits", "11 credits")),
    ],
)
def test_plural_forms_follow_the_language(language: str, forms: tuple[str, ...]) -> None:
    tr = translator(language)
    said = [
        tr.ngettext("You have %(count)s credit.", "You have %(count)s credits.", n)
        for n in (1, 2, 5, 21, 11)
    ]
    assert all(form in text for form, text in zip(forms, said, strict=True)), said


def test_numbers_and_dates_are_written_the_language_s_way() -> None:
    assert ENGLISH.number(4001) == "4,001"
    assert translator("de").number(4001) == "4.001"
    assert translator("fr").number(4001).replace("\u202f", " ") == "4 001"
    assert ENGLISH.percent(0.4) == "40%"
    assert translator("tr").percent(0.4) == "%40"


def test_a_missing_compiled_catalogue_is_compiled_from_its_source(tmp_path: Path) -> None:
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "chorus.po").write_bytes((LOCALES / "es" / "LC_MESSAGES" / "chorus.po").read_bytes())
    loaded = load_catalogue(tmp_path, "es")
    assert loaded.gettext("Back") == "Atrás"
    assert "кредит" not in loaded.ngettext("%(count)s item", "%(count)s items", 3)
    assert loaded.ngettext("%(count)s item", "%(count)s items", 3) == "3 elementos"


def test_the_readme_lists_every_shipped_language_at_full_coverage() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| [^|]+ \| `([a-z]{2,3})` \| ([^|]+) \|", readme, re.M)
    }
    assert set(rows) == {"en", *available()}
    assert all(cell.startswith("100 %") for cell in rows.values()), rows
