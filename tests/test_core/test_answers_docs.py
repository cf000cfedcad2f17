"""Answers from real documents, by the default server (no language model: the composer).

The documents of ``../shared/data/docs`` are ingested once into one bot of a server built
as ``chorus`` builds it (SQLite, embedded Chroma, the default embedder), and each question
goes the way ``chorus ask`` sends it: the retriever's search, then the generator's
answer. Follow-up questions go through the conversation engine, as a channel sends them.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bots.demo import DEMO_BOT
from core.generation.fragments import broken_fragments
from core.generation.seams import AnswerRequest
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from tests.chat import chat_with
from tests.test_core.answer_cases import CASES, DOCUMENTS, OFF_TOPIC

DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"
BOT = "docs"
_CITATION = re.compile(r"\s*\[\d+\]")
#: a conversation through the engine: (bot, what the user says, facts the reply must carry)
CONVERSATIONS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        BOT,
        (
            ("What is the file name of the Arabic XQuAD data?", ("xquad.ar.json",)),
            ("What about Russian?", ("xquad.ru.json",)),
        ),
    ),
    (
        BOT,
        (
            ("How do I OCR a document in French?", ("-l fra",)),
            ("and how do I redo it on a file that already has OCR?", ("--redo-ocr",)),
        ),
    ),
    (
        DEMO_BOT.id,
        (
            # the demo page's example question: the advice, not the problem restated
            (
                "How should I breathe when I feel anxious?",
                ("breathe normally|long exhale|breathe out",),
            ),
            ("And how long should I meditate each day?", ("five minutes",)),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Answered:
    """What the server said to one question: the answer's text, empty when declined."""

    question: str
    text: str

    @property
    def plain(self) -> str:
        return " ".join(_CITATION.sub(" ", self.text).lower().split())

    def carries(self, facts: tuple[str, ...]) -> bool:
        """Whether every fact is said (a fact "a|b" by either of its wordings)."""
        return all(
            any(" ".join(alt.lower().split()) in self.plain for alt in fact.split("|"))
            for fact in facts
        )


@dataclass(frozen=True, slots=True)
class Session:
    """Everything the module asks, answered by one server."""

    answers: dict[str, Answered]
    conversations: list[list[Answered]]


async def _ask(services: Services, bot_id: str, question: str) -> Answered:
    """One question the way ``chorus ask`` asks it."""
    bot = await services.bots.get(bot_id)
    passages = await services.retriever.search(bot.id, question, limit=5)
    answer = await services.generator.answer(
        AnswerRequest(bot=bot, question=question, passages=passages)
    )
    return Answered(question, answer.text)


async def _session(root: Path) -> Session:
    services = build_services(Settings(data_dir=root))
    try:
        await prepare(services)
        await services.bots.create("Docs", bot_id=BOT)
        for name in DOCUMENTS:
            await services.knowledge.ingest_path(BOT, DOCS / name)
        questions = [c.question for c in CASES] + list(OFF_TOPIC)
        answers = {q: await _ask(services, BOT, q) for q in questions}
        conversations = []
        for number, (bot_id, turns) in enumerate(CONVERSATIONS):
            chat = chat_with(services, bot_id=bot_id, sender_id=f"reader-{number}")
            said = []
            for text, _facts in turns:
                await chat.say(text)
                said.append(Answered(text, chat.text))
            conversations.append(said)
        return Session(answers, conversations)
    finally:
        await close(services)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """The documents ingested once, and every question of the module asked."""
    return asyncio.run(_session(tmp_path_factory.mktemp("answers")))


def test_answers_carry_the_fact_asked_for(session: Session) -> None:
    missed = [
        f"{case.question} -> {session.answers[case.question].text!r} (wanted {case.facts})"
        for case in CASES
        if not session.answers[case.question].carries(case.facts)
    ]
    assert len(CASES) >= 40
    assert len(missed) <= len(CASES) // 10, "\n".join(missed)


def test_answers_have_no_broken_fragments(session: Session) -> None:
    broken = [
        f"{case.question}: {problem}"
        for case in CASES
        for problem in broken_fragments(session.answers[case.question].text)
    ]
    assert len(broken) <= 1, "\n".join(broken)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_declined(session: Session, question: str) -> None:
    assert session.answers[question].text == ""


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        # the licence's Section 6: the lead-in and the list it introduces, not definitions
        ("If I break the licence, how are my rights reinstated?", ("reinstates:", "30 days")),
        # a sentence ending in a colon comes with the command it introduces
        ("How do I remove the OCR text layer from a PDF?", ("--mode strip:", "input.pdf")),
        # a long list cut to the items asked about, with its lead-in
        ("What is the file name of the Arabic XQuAD data?", ("languages:", "xquad.ar.json")),
    ],
)
def test_lead_ins_come_with_what_they_introduce(
    session: Session, question: str, facts: tuple[str, ...]
) -> None:
    answered = session.answers[question]
    assert answered.carries(facts), answered.text
    assert broken_fragments(answered.text) == []


def test_no_code_comment_prompt_or_dangling_bracket_is_quoted_as_prose(session: Session) -> None:
    for answered in session.answers.values():
        for line in answered.text.split("\n"):
            if line.startswith(("    ", "- ")) or " | " in line:
                continue  # a block's own lines, after their lead-in
            assert not line.lstrip().startswith(("#", ">>>", "...")), answered
            assert not re.search(r"[(\[{]\s*\[\d+\]$", line), answered


@pytest.mark.parametrize("number", range(len(CONVERSATIONS)))
def test_follow_up_questions_are_read_against_the_previous_one(
    session: Session, number: int
) -> None:
    _bot, turns = CONVERSATIONS[number]
    for answered, (_text, facts) in zip(session.conversations[number], turns, strict=True):
        assert answered.carries(facts), f"{answered.question} -> {answered.text!r}"
