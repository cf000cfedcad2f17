"""Spending credits: a crash between reserve and capture, the daily free questions, and
the creator's /pricing and /grant."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import update

from billing.credits import Credits
from core.conversation.dialogue import Dialogue
from core.conversation.engine import ConversationEngine
from core.conversation.statemachine import State
from core.conversation.studio import ContentStudio
from core.messages import Channel
from core.outbox import Address, Outbox
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import ContentJob, CreditHold, utcnow
from knowledge.passages import EmptyKnowledge
from tests.chat import Chat, chat_with, mailbox
from tests.test_core.test_studio import RITUAL, GatedComposer, confirm, jobs, state_of

PRICING = {"free_credits": 5, "costs": {"ritual": 3}}


async def balance_of(services: Services, sender: str, channel: str = "terminal") -> int:
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", channel, sender)
    assert party is not None
    bot = await services.bots.get("demo")
    balance = await services.credits.wallet(bot, party.end_user_id, channel, sender).balance()
    account = await services.credits.ledger.account("demo", party.end_user_id)
    assert await services.credits.ledger.total(account.id) == account.balance == balance
    return balance


async def crash_mid_job(settings: Settings, sender: str) -> None:
    """A process confirms a ritual (3 of 5 credits held) and dies while making it."""
    first = build_services(settings)
    await prepare(first)
    await first.bots.change_settings("demo", pricing=PRICING)
    composer = GatedComposer()  # never opens
    credits = Credits(first.db, first.bots, first.credits.ledger)
    engine = ConversationEngine(
        first.db, first.bots, Dialogue(EmptyKnowledge(), composer), wallets=credits
    )
    studio = ContentStudio(first.db, first.bots, engine, composer, Outbox(), credits=credits)
    chat = Chat(engine, studio=studio, outbox=Outbox(), sender_id=sender)
    await confirm(chat)
    await composer.started.wait()
    assert await balance_of(first, sender) == 2
    await studio.close()
    await engine.close()
    await close(first)


async def test_a_crash_between_reserve_and_capture_releases_after_expiry(
    settings: Settings,
) -> None:
    sender = f"crash-{uuid.uuid4().hex[:8]}"
    await crash_mid_job(settings, sender)
    second = build_services(settings)
    try:
        # the process stays down past the hold's expiry
        late = utcnow() - second.credits.ledger.hold_ttl - timedelta(minutes=1)
        async with second.db.transaction() as session:
            await session.execute(update(CreditHold).values(expires_at=late))
            await session.execute(update(ContentJob).values(created_at=late))
        box = mailbox(second.outbox)
        await prepare(second)
        await second.studio.idle()
        told = "\n".join(m.text for m in box.take(Address("demo", "terminal", sender)))
        assert "nothing was charged" in told
        (job,) = await jobs(second, sender)
        assert job.status == "failed"
        assert await balance_of(second, sender) == 5
        assert await state_of(second, sender) is State.CONFIRM
    finally:
        await close(second)


async def test_a_crash_followed_by_a_quick_restart_charges_once(settings: Settings) -> None:
    sender = f"crash-{uuid.uuid4().hex[:8]}"
    await crash_mid_job(settings, sender)
    second = build_services(settings)
    try:
        box = mailbox(second.outbox)
        await prepare(second)
        await second.studio.idle()
        delivered = "\n".join(m.text for m in box.take(Address("demo", "terminal", sender)))
        assert "saved in your /library" in delivered
        assert await balance_of(second, sender) == 2
        assert await second.credits.ledger.expire() == 0
    finally:
        await close(second)


async def test_questions_are_free_up_to_the_daily_quota_then_cost_credits(
    services: Services,
) -> None:
    pricing = {"free_credits": 1, "question_cost": 1, "free_questions": 2}
    await services.bots.change_settings("demo", pricing=pricing)
    chat = chat_with(services)
    await chat.say("hello")
    question = "How do I breathe when I feel anxious?"
    for _ in range(2):
        await chat.say(question)
        assert "[1]" in chat.text
    assert await balance_of(services, "user-1") == 1
    await chat.say(question)  # beyond the quota: paid with the one credit
    assert "[1]" in chat.text
    assert await balance_of(services, "user-1") == 0
    await chat.say(question)
    assert "You've used today's free questions" in chat.text
    assert await balance_of(services, "user-1") == 0
    statement = (await chat.say("/credits"))[-1].text
    assert "Free questions left today: 0 of 2" in statement


async def test_a_question_the_material_does_not_cover_costs_nothing(
    services: Services,
) -> None:
    pricing = {"free_credits": 3, "question_cost": 1, "free_questions": 0}
    await services.bots.change_settings("demo", pricing=pricing)
    chat = chat_with(services)
    await chat.say("hello")
    await chat.say("What is the boiling point of tungsten carbide in a vacuum?")
    assert "couldn't find anything" in chat.text
    assert await balance_of(services, "user-1") == 3


async def test_the_creator_sets_prices_and_grants_credits(services: Services) -> None:
    creator = chat_with(services, sender_id="local")  # the terminal's creator
    replies = await creator.say("/pricing")
    assert "Everything is free" in replies[-1].text
    await creator.say("/pricing cost ritual 2")
    costs = (await creator.say("/pricing free 1"))[-1].text
    assert "Stripe" not in costs  # nothing on sale yet: nothing to warn about
    pack = (await creator.say("/pricing pack small 10 4.99"))[-1].text
    # no Stripe key on this server: the creator hears at once that users can't pay
    assert "Users can't pay for these packs and plans yet" in pack
    assert "STRIPE_SECRET_KEY" in pack
    assert "STRIPE_SECRET_KEY" in (await creator.say("/pricing"))[-1].text
    saved = (await creator.say("/pricing plan monthly 9.99 100 20"))[-1].text
    assert "Pack small: 10 credits for €4.99" in saved
    assert "Plan monthly: €9.99 a month, 100 credits a month, 20 free questions" in saved
    bad = (await creator.say("/pricing pack small 10 0.10"))[-1].text
    assert "didn't work" in bad
    assert "price" in bad
    assert (await creator.say("/pricing cost sandwich 2"))[-1].text.startswith("That didn't work")
    user = chat_with(services, sender_id="ana")
    await user.say("hello")
    assert await balance_of(services, "ana") == 1
    granted = (await creator.say("/grant terminal:ana 4"))[-1].text
    assert "they have 5 now" in granted
    assert "hasn't talked" in (await creator.say("/grant terminal:nobody 4"))[-1].text
    assert "Send /grant USER N" in (await creator.say("/grant ana"))[-1].text
    refused = await user.say("/grant terminal:ana 100")
    assert "only for" in refused[0].text
    statement = (await user.say("/credits"))[-1].text
    assert "You have 5 credits" in statement
    assert "gift from the creator" in statement
    buy = (await user.say("/buy"))[-1]
    # no Stripe key on this server, and no manager bot to reach the creator in
    assert buy.text == (
        "Purchases aren't available on Mira yet. Mira's creator can give you credits; "
        "I can't reach them from here, so please contact them where you found Mira."
    )
    assert not buy.buttons
    await creator.say("/pricing off")
    assert "Everything is free" in (await creator.say("/pricing"))[-1].text


async def test_credits_on_a_free_bot_say_so(services: Services) -> None:
    chat = chat_with(services, channel=Channel.WIDGET)
    replies = await chat.say("/credits")
    assert replies[-1].text == "Everything on Mira is free: you don't need credits."
    assert not replies[-1].buttons
    # packs on sale but nothing costing credits is still free
    pricing = {"free_credits": 2, "packs": [{"id": "ten", "credits": 10, "price": 500}]}
    await services.bots.change_settings("demo", pricing=pricing)
    replies = await chat.say("/credits")
    assert replies[-1].text == "Everything on Mira is free: you don't need credits."
    await services.bots.change_settings("demo", pricing={**pricing, "costs": {"ritual": 1}})
    replies = await chat.say("/credits")
    assert "You have 2 credits" in replies[-1].text


async def test_100_concurrent_reservations_leave_90_short_and_the_books_at_zero(
    services: Services,
) -> None:
    await services.bots.change_settings("demo", pricing={"free_credits": 10})
    chat = chat_with(services)
    await chat.say("hello")
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", "user-1")
    assert party is not None
    bot = await services.bots.get("demo")
    wallet = services.credits.wallet(bot, party.end_user_id, "terminal", "user-1")
    charges = await asyncio.gather(*(wallet.reserve(1, f"job:{n}") for n in range(100)))
    holds = [c.hold for c in charges if c.hold]
    assert len(holds) == 10
    assert sum(c.short for c in charges) == 90
    await asyncio.gather(*(wallet.settle(h, spend=True) for h in holds))
    assert await balance_of(services, "user-1") == 0


async def test_a_creators_gift_lets_a_paywalled_user_go_on(services: Services) -> None:
    await services.bots.change_settings("demo", pricing={"free_credits": 1, "costs": {"ritual": 3}})
    user = chat_with(services, sender_id="ana")
    for step in RITUAL:
        await user.say(step)
    await user.press("flow:confirm")
    assert "costs 3 credits and you have 1" in user.text
    assert "Mira's creator can give you credits" in user.text  # nothing on sale here
    assert "Your answers are kept." in user.text
    creator = chat_with(services, sender_id="local")
    await creator.say("/grant terminal:ana 5")
    await user.say("I got some credits")
    assert "saved in your /library" in user.text
    assert await balance_of(services, "ana") == 3
