"""A bot's numbers (core.insights.analytics) on real storage, SQLite and PostgreSQL: conversations
held through the engine for what the dialogue marks (questions, the guided flow), and
rows stored through the repository and the ledger at chosen moments for days, channels
and credits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from billing import ledger as books
from billing.ledger import Ledger
from core.insights.analytics import ChannelCount, DayActivity, FlowStep, QuestionCount, bot_report
from core.messages import Channel
from core.services import Services
from core.storage import repository as repo
from core.storage.models import (
    Bot,
    ContentItem,
    Conversation,
    LedgerEntry,
    Message,
)
from tests.chat import chat_with

NOW = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)
TODAY = NOW.date()
EARLIER_TODAY = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)

AFFIRMATIONS = [
    ("press", "type:affirmations"),
    ("press", "purpose:self-confidence"),
    ("say", "hopeful"),
    ("say", "in the morning"),
    ("say", "5"),
    ("press", "pace:lively"),
    ("say", "text only"),
    ("press", "flow:confirm"),
]


async def _retime_bot(services: Services, bot_id: str, when: datetime) -> None:
    """Move everything a bot's conversations stored to ``when`` (the engine stamps the
    real time; the report is asked about a fixed day)."""
    conversations = select(Conversation.id).where(Conversation.bot_id == bot_id)
    async with services.db.transaction() as session:
        await session.execute(
            update(Message)
            .where(Message.conversation_id.in_(conversations))
            .values(created_at=when)
        )
        await session.execute(
            update(ContentItem).where(ContentItem.bot_id == bot_id).values(created_at=when)
        )


async def _stored_replies(services: Services, bot_id: str, channel: str) -> int:
    async with services.db.read() as session:
        query = (
            select(func.count())
            .select_from(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.bot_id == bot_id,
                Message.channel == channel,
                Message.direction == "out",
            )
        )
        return int(await session.scalar(query) or 0)


async def test_questions_and_the_guided_flow_as_the_engine_stored_them(
    services: Services,
) -> None:
    asker = chat_with(services, sender_id="ann")
    await asker.say("/start")
    await asker.say("How should I breathe out?")
    assert asker.last[-1].sources, "the demo material covers breathing out"
    await asker.say("how should I breathe out")
    await asker.say("How should I  breathe out ?!")
    await asker.say("What is the capital of France?")
    assert "couldn't find anything about that" in asker.text
    await asker.say("/help")  # a command, not a question

    maker = chat_with(services, sender_id="bea", channel=Channel.WIDGET)
    await maker.say("/start")
    for action, value in AFFIRMATIONS:
        await (maker.press(value) if action == "press" else maker.say(value))
    assert "saved in your /library" in maker.text

    chooser = chat_with(services, sender_id="cid", channel=Channel.TELEGRAM)
    await chooser.say("/create meditation")  # straight to the first question
    browser = chat_with(services, sender_id="dan")
    await browser.say("/create")  # which kind? and then nothing
    await _retime_bot(services, "demo", EARLIER_TODAY)

    report = await bot_report(services.db, "demo", now=NOW)

    assert report.first_day == TODAY - timedelta(days=29)
    assert report.last_day == TODAY
    assert [d.day for d in report.daily] == [TODAY - timedelta(days=n) for n in range(29, -1, -1)]
    assert all(d.channels == () and d.active_users == 0 for d in report.daily[:-1])
    expected_channels = (
        ChannelCount("telegram", 1, await _stored_replies(services, "demo", "telegram")),
        ChannelCount("terminal", 7, await _stored_replies(services, "demo", "terminal")),
        ChannelCount(
            "widget", 1 + len(AFFIRMATIONS), await _stored_replies(services, "demo", "widget")
        ),
    )
    assert report.channels == expected_channels
    assert report.daily[-1] == DayActivity(TODAY, expected_channels, 4)
    assert report.active_users == 4
    assert report.questions == 4
    assert report.unanswered == 1
    assert report.top_questions == (
        QuestionCount("how should i breathe out", 3),
        QuestionCount("what is the capital of france", 1),
    )
    assert report.unanswered_questions == (QuestionCount("what is the capital of france", 1),)
    assert report.flow == (
        FlowStep("intent_discovery", 3, 1),
        FlowStep("context_gathering", 2, 1),
        FlowStep("practice_details", 1, 0),
        FlowStep("confirm", 1, 0),
        FlowStep("generating", 1, 0),
        FlowStep("delivered", 1, 0),
    )
    assert (report.flows_started, report.flows_completed) == (3, 1)
    assert report.content_created == 1

    # a day later the window still holds them; 30 days later it no longer does
    assert (await bot_report(services.db, "demo", now=NOW + timedelta(days=1))).questions == 4
    later = await bot_report(services.db, "demo", now=NOW + timedelta(days=30))
    assert (later.questions, later.active_users, later.channels) == (0, 0, ())
    assert later.flows_started == later.content_created == 0


async def _add_bot(services: Services, bot_id: str) -> None:
    async with services.db.transaction() as session:
        session.add(Bot(id=bot_id, name=bot_id.title()))


async def _conversation(
    services: Services, bot_id: str, channel: str, sender: str, messages: list[tuple[Any, ...]]
) -> int:
    """An end user with ``messages`` as (moment, direction, state[, text[, payload]]);
    returns the end user's id."""
    async with services.db.transaction() as session:
        party = await repo.create_party(
            session,
            bot_id=bot_id,
            channel=channel,
            external_id=sender,
            display_name=None,
            language=None,
            state="chat",
        )
        for moment, direction, state, *rest in messages:
            session.add(
                Message(
                    conversation_id=party.conversation_id,
                    direction=direction,
                    channel=channel,
                    state=state,
                    text=rest[0] if rest else "",
                    payload=rest[1] if len(rest) > 1 else {},
                    created_at=moment,
                )
            )
    return party.end_user_id


def _at(day: date, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=UTC)


async def test_days_channels_and_users_are_counted_by_utc_day_for_one_bot_only(
    services: Services,
) -> None:
    await _add_bot(services, "tea")
    await _add_bot(services, "other")
    first = TODAY - timedelta(days=6)
    yesterday = TODAY - timedelta(days=1)
    await _conversation(
        services,
        "tea",
        "telegram",
        "1",
        [
            (_at(first), "in", "chat"),  # the window's first moment
            (_at(first, 0, 0, 1), "out", "chat"),
            (_at(first) - timedelta(microseconds=1), "in", "chat"),  # the day before
            (_at(TODAY), "in", "chat"),
            (_at(TODAY, 0, 0, 2), "out", "chat"),
            (_at(TODAY, 0, 0, 3), "out", "chat"),
            (_at(TODAY, 23, 59, 59, 999_999), "in", "chat"),  # the window's last moment
            (_at(TODAY + timedelta(days=1)), "in", "chat"),  # tomorrow: not yet
        ],
    )
    await _conversation(
        services,
        "tea",
        "whatsapp",
        "+4915100000001",
        [
            (_at(yesterday, 23, 59, 59, 999_999), "in", "chat"),
            (_at(TODAY, 0, 0, 0, 500_000), "out", "chat"),  # answered after midnight
        ],
    )
    await _conversation(  # only written to (a push): not an active user
        services, "tea", "widget", "visitor", [(_at(yesterday, 12), "out", "delivered")]
    )
    await _conversation(  # another creator's bot, on the same days
        services,
        "other",
        "telegram",
        "1",
        [(_at(TODAY, 10), "in", "chat"), (_at(yesterday, 10), "out", "chat")] * 3,
    )

    report = await bot_report(services.db, "tea", days=7, now=NOW)

    assert (report.first_day, report.last_day) == (first, TODAY)
    by_day = {d.day: d for d in report.daily}
    assert len(report.daily) == 7
    assert by_day[first] == DayActivity(first, (ChannelCount("telegram", 1, 1),), 1)
    assert by_day[yesterday] == DayActivity(
        yesterday, (ChannelCount("whatsapp", 1, 0), ChannelCount("widget", 0, 1)), 1
    )
    assert by_day[TODAY] == DayActivity(
        TODAY, (ChannelCount("telegram", 2, 2), ChannelCount("whatsapp", 0, 1)), 1
    )
    quiet = [d for d in report.daily if d.day not in (first, yesterday, TODAY)]
    assert len(quiet) == 4
    assert all(d == DayActivity(d.day, (), 0) for d in quiet)
    assert report.channels == (
        ChannelCount("telegram", 3, 3),
        ChannelCount("whatsapp", 1, 1),
        ChannelCount("widget", 0, 1),
    )
    assert (report.inbound, report.outbound) == (4, 5)
    assert (by_day[TODAY].inbound, by_day[TODAY].outbound) == (2, 3)
    assert report.active_users == 2
    assert report.questions == report.unanswered == 0
    assert report.top_questions == report.unanswered_questions == ()
    # the pushed content is the only flow step seen: one conversation got that far
    assert [(s.reached, s.dropped) for s in report.flow] == [(1, 0)] * 6

    other = await bot_report(services.db, "other", days=7, now=NOW)
    assert other.channels == (ChannelCount("telegram", 3, 3),)
    assert other.active_users == 1
    nobody = await bot_report(services.db, "no-such-bot", days=7, now=NOW)
    assert nobody.channels == ()
    assert nobody.active_users == 0


async def test_flow_steps_count_each_conversation_at_its_furthest_step(
    services: Services,
) -> None:
    await _add_bot(services, "tea")
    moment = _at(TODAY, 8)
    states = {
        "a": ["greeting", "intent_discovery", "context_gathering", "chat"],
        "b": ["context_gathering", "practice_details", "confirm", "paywall", "generating"],
        # delivered, then began again
        "c": [
            *("intent_discovery", "context_gathering", "practice_details", "confirm"),
            *("generating", "delivered", "chat", "intent_discovery"),
        ],
        "d": ["chat", "chat"],
        "e": ["confirm"],
    }
    for sender, path in states.items():
        await _conversation(
            services, "tea", "terminal", sender, [(moment, "in", state) for state in path]
        )
    # the flow it went through before the window does not count
    await _conversation(
        services, "tea", "terminal", "f", [(_at(TODAY - timedelta(days=40)), "in", "delivered")]
    )

    report = await bot_report(services.db, "tea", now=NOW)

    # furthest steps: a context gathering, b generating, c delivered, e confirm
    assert report.flow == (
        FlowStep("intent_discovery", 4, 0),
        FlowStep("context_gathering", 4, 1),
        FlowStep("practice_details", 3, 0),
        FlowStep("confirm", 3, 1),
        FlowStep("generating", 2, 1),
        FlowStep("delivered", 1, 0),
    )
    assert (report.flows_started, report.flows_completed) == (4, 1)


async def test_questions_are_grouped_by_their_words_and_counted_for_the_bot(
    services: Services,
) -> None:
    await _add_bot(services, "tea")
    await _add_bot(services, "other")
    moment = _at(TODAY, 9)
    questions = [
        ("How long should green tea steep?", True),
        ("how long should green tea steep", True),
        ("How long should  green tea steep??", True),
        ("Is oolong a green tea?", False),
        ("IS OOLONG A GREEN TEA", False),
        ("Where do you ship?", False),
        ("What is matcha?", True),
        ("hello there", None),  # replied to, but not an answer to a question
    ]
    for n, (text, grounded) in enumerate(questions):
        await _conversation_with_answer(services, "tea", f"u{n}", text, grounded, moment)
    await _conversation_with_answer(services, "other", "x", "Where do you ship?", False, moment)

    report = await bot_report(services.db, "tea", now=NOW, top=2)

    assert (report.questions, report.unanswered) == (7, 3)
    assert report.top_questions == (
        QuestionCount("how long should green tea steep", 3),
        QuestionCount("is oolong a green tea", 2),
    )
    assert report.unanswered_questions == (
        QuestionCount("is oolong a green tea", 2),
        QuestionCount("where do you ship", 1),
    )
    everything = await bot_report(services.db, "tea", now=NOW, top=10)
    assert [q.question for q in everything.top_questions] == [
        "how long should green tea steep",
        "is oolong a green tea",
        "what is matcha",
        "where do you ship",
    ]
    assert (await bot_report(services.db, "tea", now=NOW, top=0)).top_questions == ()
    assert (await bot_report(services.db, "other", now=NOW)).unanswered_questions == (
        QuestionCount("where do you ship", 1),
    )


async def _conversation_with_answer(
    services: Services,
    bot_id: str,
    sender: str,
    text: str,
    grounded: bool | None,
    moment: datetime,
) -> None:
    """A question and the reply to it, linked as the engine links them."""
    reply: dict[str, Any] = {"text": "…", "kind": "text"}
    if grounded is not None:
        reply["grounded"] = grounded
    async with services.db.transaction() as session:
        party = await repo.create_party(
            session,
            bot_id=bot_id,
            channel="telegram",
            external_id=sender,
            display_name=None,
            language=None,
            state="chat",
        )
        question = Message(
            conversation_id=party.conversation_id,
            direction="in",
            channel="telegram",
            state="chat",
            text=text,
            payload={},
            created_at=moment,
        )
        session.add(question)
        await session.flush()
        session.add(
            Message(
                conversation_id=party.conversation_id,
                direction="out",
                channel="telegram",
                state="chat",
                text="…",
                payload=reply,
                reply_to_id=question.id,
                created_at=moment,
            )
        )


async def test_credits_sold_given_spent_and_refunded(services: Services) -> None:
    await _add_bot(services, "tea")
    await _add_bot(services, "other")
    ledger = Ledger(services.db)
    buyer = await _conversation(services, "tea", "telegram", "buyer", [])
    gifted = await _conversation(services, "tea", "telegram", "gifted", [])
    elsewhere = await _conversation(services, "other", "telegram", "x", [])

    account = (await ledger.account("tea", buyer, free_credits=3)).id
    await ledger.post(account, kind="purchase", amount=50, key="p1", cause="stripe:evt_1")
    spent = await ledger.reserve(account, 10, "job:1")
    await ledger.capture(spent)
    released = await ledger.reserve(account, 4, "job:2")
    await ledger.release(released)
    late = await ledger.reserve(account, 2, "job:3")
    await ledger.release(late)  # expired first, then the content was delivered after all
    await ledger.capture(late)
    async with services.db.transaction() as session:  # a refund after spending: into debt
        await books.post(
            session,
            account,
            kind="reversal",
            amount=-50,
            key="r1",
            cause="stripe:refund",
            into_debt=True,
        )
    # a later purchase pays the debt off first: all 20 credits were sold
    await ledger.post(account, kind="purchase", amount=20, key="p2", cause="stripe:evt_2")
    # 3 + 50 - 10 - 2 = 41 taken by the reversal, 9 owed; then 20 bought, 9 of them owed
    assert (await ledger.get(account)).balance == 11
    other_account = (await ledger.account("tea", gifted)).id
    await ledger.post(other_account, kind="creator_grant", amount=5, key="g1", cause="creator:tea")
    await ledger.post(other_account, kind="allowance", amount=30, key="a1", cause="stripe:evt_3")
    old = await ledger.post(other_account, kind="purchase", amount=7, key="p0", cause="x")
    not_ours = (await ledger.account("other", elsewhere, free_credits=100)).id
    await ledger.post(not_ours, kind="purchase", amount=100, key="p3", cause="stripe:evt_4")
    async with services.db.transaction() as session:
        await session.execute(update(LedgerEntry).values(created_at=EARLIER_TODAY))
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id == old.id)
            .values(created_at=NOW - timedelta(days=31))
        )

    report = await bot_report(services.db, "tea", now=NOW)

    assert report.credits_sold == 50 + 20 + 30
    assert report.credits_granted == 3 + 5
    assert report.credits_spent == 10 + 2
    assert report.credits_refunded == 50


@pytest.mark.parametrize("days", [0, -1, 367])
async def test_the_window_is_one_day_to_a_year(services: Services, days: int) -> None:
    with pytest.raises(ValueError, match="1 to 366 days"):
        await bot_report(services.db, "demo", days=days, now=NOW)


async def test_a_one_day_window_is_today(services: Services) -> None:
    report = await bot_report(services.db, "demo", days=1, now=NOW)
    assert (report.first_day, report.last_day) == (TODAY, TODAY)
    assert [d.day for d in report.daily] == [TODAY]
