"""One identity: /link gives a one-time code, and the code sent from another chat with the
same bot makes the two chats one account, once, losing nothing: identities, history,
library, credits (through the ledger, never counted twice) and preferences. Codes that
cannot join anything change nothing, guessing is limited, and a process holding an old
copy of a joined chat stores its next turn on the kept account (SQLite and PostgreSQL;
Telegram and WhatsApp through their real webhooks and the fake platforms)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, func, select

from billing import ledger as books
from core.conversation.linking import Linking
from core.conversation.statemachine import State
from core.conversation.turn import TurnResult
from core.errors import UnmergeableTable
from core.messages import Channel
from core.outbox import Address
from core.people.user_export import conversation_ids
from core.people.user_merge import merge_users, moved_references
from core.services import SERVICES, Services, build_services, close, prepare
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import (
    Base,
    CreditAccount,
    EndUser,
    LedgerEntry,
    LinkCode,
    Message,
    Payment,
    utcnow,
)
from tests.chat import Chat, chat_with
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.twilio_requests import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    USER_NUMBER,
    sign,
    text_message,
)
from tests.ownership import Ownership, everything, missing, owned_by, references_to
from tests.test_channels.telegram_app import (
    Client,
    post_update,
    services_ready,
    settings_for,
    start,
)

PRICING = {"free_credits": 10, "costs": {"ritual": 2}, "question_cost": 1, "free_questions": 1}
RITUAL = ("/create ritual", "calm", "evening", "tired", "5", "no", "yes")
CODE = re.compile(r"Your code is ([A-Z0-9]{4}-[A-Z0-9]{4})\.")
DONE = "Done: this chat and your {chats} are now one account with Mira."
UNKNOWN = "I don't know that code"
# what joining two users removes: the emptied user, and one of each row a user has one of
MERGED_AWAY = {"end_users", "conversations", "credit_accounts", "question_usage", "link_codes"}
# what the turns of the test themselves write, next to what a refused code must not change
TURN_TABLES = {"messages", "processed_deliveries", "conversations", "question_usage"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", speech_enabled=False)


@pytest.fixture
async def mira(services: Services) -> Services:
    """The demo bot (Mira), charging for questions beyond the first and for content."""
    await services.bots.change_settings("demo", pricing=PRICING)
    return services


def chat(services: Services, sender: str, channel: Channel, bot_id: str = "demo") -> Chat:
    return chat_with(services, sender_id=sender, channel=channel, bot_id=bot_id)


async def user_of(services: Services, sender: Chat) -> int:
    async with services.db.read() as session:
        party = await repo.find_party(
            session, sender.bot_id, sender.channel.value, sender.sender_id
        )
    assert party is not None, f"{sender.sender_id} is unknown"
    return party.end_user_id


async def code_of(sender: Chat) -> str:
    await sender.say("/link")
    found = CODE.search(sender.text)
    assert found, sender.text
    return found.group(1)


async def credits_of(services: Services, end_user_id: int) -> tuple[int, int]:
    """The balance and debt of the user's account, checked against its ledger entries."""
    async with services.db.read() as session:
        row = await session.scalar(
            select(CreditAccount).where(CreditAccount.end_user_id == end_user_id)
        )
        assert row is not None
        total, debt = (
            await session.execute(
                select(func.sum(LedgerEntry.amount), func.sum(LedgerEntry.debt_change)).where(
                    LedgerEntry.account_id == row.id
                )
            )
        ).one()
    assert (row.balance, row.debt) == (total or 0, debt or 0), "the ledger does not add up"
    return row.balance, row.debt


async def account_of(services: Services, end_user_id: int) -> int:
    return (await services.credits.ledger.account("demo", end_user_id, 10)).id


async def buy(services: Services, sender: Chat, credits: int, name: str) -> None:
    """A paid Stripe checkout as the webhook records it: the payment and its credits."""
    account = await account_of(services, await user_of(services, sender))
    async with services.db.transaction() as session:
        session.add(
            Payment(
                id=f"cs_test_{name}",
                account_id=account,
                bot_id="demo",
                channel=sender.channel.value,
                sender_id=sender.sender_id,
                offer="small",
                mode="payment",
                credits=credits,
                amount=499,
                currency="eur",
                url=f"https://checkout.stripe.com/c/pay/cs_test_{name}",
                status="paid",
                payment_intent=f"pi_{name}",
                idempotency_key=f"checkout:{name}",
            )
        )
    await services.credits.ledger.post(
        account, kind="purchase", amount=credits, key=f"purchase:{name}", cause=f"stripe:{name}"
    )


async def grant(services: Services, sender: Chat, credits: int, key: str) -> None:
    bot = await services.bots.get("demo")
    await services.credits.grant(bot, await user_of(services, sender), credits, key)


async def make_ritual(sender: Chat) -> None:
    """A ritual made by the studio and kept in the user's library."""
    for step in RITUAL:
        await sender.say(step)
    await sender.say("/library")
    # in the user's language: bob below chose Spanish
    shown = ("Your library, newest first", "Tu biblioteca, lo más reciente primero")
    assert any(lead in sender.text for lead in shown), sender.text


async def history(services: Services, end_user_id: int) -> list[tuple[int, str]]:
    """The user's messages (id and text) in the order they were stored."""
    async with services.db.read() as session:
        rows = await session.execute(
            select(Message.id, Message.text)
            .where(Message.conversation_id.in_(conversation_ids(end_user_id)))
            .order_by(Message.id)
        )
    return [(row_id, text) for row_id, text in rows]


async def exists(services: Services, end_user_id: int) -> bool:
    async with services.db.read() as session:
        return await session.get(EndUser, end_user_id) is not None


def outside_turns(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {name: table for name, table in rows.items() if name not in TURN_TABLES}


# -- the schema walk ------------------------------------------------------------------------


def test_every_table_referring_to_end_users_is_moved() -> None:
    moved = set(moved_references(Base.metadata))
    referring = {
        f"{table.name}.{fk.parent.name}"
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "end_users"
    }
    assert referring <= moved
    # and what refers to the rows of which a user has one: messages, the ledger...
    assert {"messages.conversation_id", "ledger_entries.account_id"} <= moved
    assert {"payments.account_id", "credit_holds.account_id", "question_usage.account_id"} <= moved


def test_a_new_table_is_moved_or_stops_the_merge_loudly() -> None:
    metadata = MetaData()
    Table("end_users", metadata, Column("id", Integer, primary_key=True))
    Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("end_user_id", ForeignKey("end_users.id")),
    )
    assert moved_references(metadata) == ["notes.end_user_id"]
    Table(
        "loyalty_cards",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("end_user_id", ForeignKey("end_users.id"), unique=True),
    )
    with pytest.raises(UnmergeableTable) as raised:
        moved_references(metadata)
    assert (raised.value.table, raised.value.column) == ("loyalty_cards", "end_user_id")


# -- joining ------------------------------------------------------------------------------


async def test_credits_join_once_and_the_ledger_adds_up(mira: Services) -> None:
    services = mira
    alice = chat(services, "v_alice5d1c8e2f4a6b8c0d", Channel.WIDGET)
    bob = chat(services, "bob-terminal-93ab0c", Channel.TERMINAL)
    for person in (alice, bob):
        await person.say("/start")
        await person.say("What helps me sleep?")  # the free question of the day
        await person.say("How do I breathe?")  # a paid one: 1 credit
    await buy(services, alice, 10, "alice")
    await grant(services, alice, 4, "gift:alice")
    await grant(services, bob, 7, "gift:bob")
    keep, other = await user_of(services, alice), await user_of(services, bob)
    assert await credits_of(services, keep) == (10 - 1 + 10 + 4, 0)
    assert await credits_of(services, other) == (10 - 1 + 7, 0)

    code = await code_of(alice)
    replies = await bob.say(f"/link {code}")
    assert replies[0].text == (
        DONE.format(chats="website chat")
        + " Your credits (39), library (0 items) and history are together."
    )
    assert await user_of(services, bob) == keep
    assert not await exists(services, other)
    assert await credits_of(services, keep) == (39, 0)
    async with services.db.read() as session:
        kinds = list(
            await session.scalars(
                select(LedgerEntry.kind).where(
                    LedgerEntry.account_id == await account_of(services, keep)
                )
            )
        )
    assert kinds.count("link_out") == kinds.count("link_in") == 1
    assert kinds.count("purchase") == 1
    assert kinds.count("creator_grant") == 2

    # the same code again, and the merge run again, count nothing twice
    await bob.say(f"/link {code}")
    assert UNKNOWN in bob.text
    async with services.db.transaction() as session:
        await merge_users(session, keep, other)
    assert await credits_of(services, keep) == (39, 0)
    await alice.say("/credits")
    assert "You have 39 credits." in alice.text


@pytest.mark.parametrize("owing", ["kept", "other"])
async def test_a_debt_is_joined_too(mira: Services, owing: str) -> None:
    services = mira
    alice = chat(services, "alice-terminal-5d1c8e", Channel.TERMINAL)
    bob = chat(services, "+447700900456", Channel.WHATSAPP)
    for person in (alice, bob):
        await person.say("/start")
        await person.say("What helps me sleep?")  # opens the account: 10 credits
    await grant(services, alice if owing == "other" else bob, 5, "gift")
    debtor = await user_of(services, bob if owing == "other" else alice)
    async with services.db.transaction() as session:  # a refund after spending: 4 owed
        await books.post(
            session,
            await account_of(services, debtor),
            kind="reversal",
            amount=-14,
            key="reversal:debtor",
            cause="stripe:evt_refund",
            into_debt=True,
        )
    assert await credits_of(services, debtor) == (0, 4)
    await bob.say(f"/link {await code_of(alice)}")
    keep = await user_of(services, alice)
    assert await user_of(services, bob) == keep
    assert await credits_of(services, keep) == (15 - 4, 0)


async def test_libraries_histories_and_preferences_come_together(mira: Services) -> None:
    services = mira
    alice = chat(services, "alice-terminal-5d1c8e", Channel.TERMINAL)
    bob = chat(services, "v_bob93ab0c47e1f2a3b4", Channel.WIDGET)
    await alice.say("/start")
    await alice.say("/voice speed slow")
    await make_ritual(alice)
    await bob.say("/start")
    await bob.say("/language es")
    await bob.say("/voice pitch low")
    await make_ritual(bob)
    await bob.say("What helps me sleep, quillberry?")
    keep, other = await user_of(services, alice), await user_of(services, bob)
    async with services.db.transaction() as session:
        await repo.update_end_user(session, other, timezone="Europe/Madrid", opted_out_at=utcnow())
    code = await code_of(alice)
    before = await history(services, keep) + await history(services, other)

    typed = f"/link {code.lower().replace('-', ' ')}"  # any case, dash or not
    replies = await bob.say(typed)
    assert "biblioteca (2 elementos)" in replies[0].text  # bob chose Spanish
    after = await history(services, keep)  # every message, in the order they were stored
    assert after == [*sorted(before), (after[-2][0], typed), (after[-1][0], replies[0].text)]
    for person in (alice, bob):
        await person.say("/library")
        assert re.search(r"^1\. .+\n2\. .+\n", person.text, re.MULTILINE), person.text
    async with services.db.read() as session:
        user = await session.get(EndUser, keep)
    assert user is not None
    assert user.language == "es"
    assert user.timezone == "Europe/Madrid"
    assert user.opted_out_at is not None
    assert user.voice_preferences == {"speed": "slow", "pitch": "low"}

    # from now on both chats talk in one conversation
    await alice.say("And in the morning?")
    await bob.say("Thank you, zephyrine")
    said = [text for _id, text in await history(services, keep)]
    assert "And in the morning?" in said
    assert "Thank you, zephyrine" in said
    assert "What helps me sleep, quillberry?" in said


async def test_merging_moves_every_row_of_the_user(mira: Services) -> None:
    services = mira
    alice = chat(services, "alice-terminal-5d1c8e", Channel.TERMINAL)
    bob = chat(services, "+447700900456", Channel.WHATSAPP)
    for person, name in ((alice, "alice"), (bob, "bob")):
        await person.say("/start")
        await person.say("What helps me sleep?")
        await person.say("How do I breathe?")
        await make_ritual(person)
        await buy(services, person, 10, name)
    code = await code_of(alice)
    await code_of(bob)  # a code of the user who goes: it goes with them
    keep, other = await user_of(services, alice), await user_of(services, bob)
    theirs = await owned_by(services, other)
    assert {"messages", "content_items", "content_jobs", "ledger_entries", "payments"} <= set(
        theirs.rows
    )
    assert {"credit_holds", "question_usage", "channel_identities", "link_codes"} <= set(
        theirs.rows
    )

    await bob.say(f"/link {code}")
    assert bob.text.startswith("Done:"), bob.text
    after = await everything(services)
    assert {line.split(" ", 1)[0] for line in missing(theirs, after)} <= MERGED_AWAY
    kept, present = await owned_by(services, keep), Ownership(after)
    for name in theirs.rows:  # what is left of theirs is the kept user's now
        table = Base.metadata.tables[name]
        assert theirs.keys(table) & present.keys(table) <= kept.keys(table), name
    emptied = Ownership(
        {name: theirs.rows[name] for name in ("end_users", "conversations", "credit_accounts")}
    )
    assert await references_to(services, emptied) == []  # nothing points at what went
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(LinkCode)) == 0


# -- codes that join nothing --------------------------------------------------------------


async def test_codes_that_cannot_join_change_nothing(mira: Services) -> None:
    services = mira
    alice = chat(services, "alice-terminal-5d1c8e", Channel.TERMINAL)
    bob = chat(services, "v_bob93ab0c47e1f2a3b4", Channel.WIDGET)
    await services.bots.create("Nova", bot_id="nova")
    carol = chat(services, "carol-7e21d9", Channel.TERMINAL, bot_id="nova")
    for person in (alice, bob, carol):
        await person.say("/start")
    code, elsewhere = await code_of(alice), await code_of(carol)
    before = outside_turns(await everything(services))

    await bob.say("/link ABCD-EFGH")
    assert UNKNOWN in bob.text
    await bob.say("/link 12")
    assert UNKNOWN in bob.text
    await bob.say(f"/link {elsewhere}")
    assert "That code is from another bot, not Mira" in bob.text
    await alice.say(f"/link {code}")
    assert "That's the code I gave you here" in alice.text
    later = Linking(services.db, clock=lambda: utcnow() + timedelta(minutes=11))
    result = TurnResult.begin(State.CHAT, {})
    bot = await services.bots.get("demo")
    sender = Address("demo", bob.channel.value, bob.sender_id)
    assert await later.run(code, bot, sender, result) is None
    assert "That code has expired" in result.replies[-1].text
    assert outside_turns(await everything(services)) == before

    await bob.say(f"/link {code}")  # within its ten minutes: it works
    assert bob.text.startswith("Done:")
    await alice.say(f"/link {await code_of(bob)}")
    assert "already part of that account" in alice.text
    assert await user_of(services, bob) == await user_of(services, alice)


async def test_guessing_codes_is_limited(mira: Services) -> None:
    services = mira
    alice = chat(services, "alice-terminal-5d1c8e", Channel.TERMINAL)
    mallory = chat(services, "v_mallory0c47e1f2a3b4", Channel.WIDGET)
    bob = chat(services, "+447700900456", Channel.WHATSAPP)
    for person in (alice, mallory, bob):
        await person.say("/start")
    code = await code_of(alice)
    for guess in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD", "EEEE-EEEE"):
        await mallory.say(f"/link {guess}")
        assert UNKNOWN in mallory.text
    await mallory.say(f"/link {code}")  # even the right one: too many tries
    assert "too many codes from this chat" in mallory.text
    assert "12 minutes" in mallory.text
    assert await user_of(services, mallory) != await user_of(services, alice)
    await bob.say(f"/link {code}")  # another chat is not held back, and the code is intact
    assert bob.text.startswith("Done:")


async def test_a_new_code_replaces_the_earlier_one(mira: Services) -> None:
    services = mira
    alice = chat(services, "alice-terminal-5d1c8e", Channel.TERMINAL)
    bob = chat(services, "v_bob93ab0c47e1f2a3b4", Channel.WIDGET)
    await alice.say("/link")  # somebody new: the turn makes them a user first
    assert alice.text.endswith("Send /link once more and I'll give you a code.")
    first, second = await code_of(alice), await code_of(alice)
    async with services.db.read() as session:
        stored = list(await session.scalars(select(LinkCode.code_hash)))
    assert len(stored) == 1
    assert len(stored[0]) == 64  # only a hash
    assert first.replace("-", "") not in stored[0]
    await bob.say(f"/link {first}")
    assert UNKNOWN in bob.text
    await bob.say(f"/link {second}")  # a chat new to the bot joins the account directly
    assert bob.text.startswith("Done:"), bob.text
    assert bob.text.count("Mira") == 1  # no welcome: this chat is part of an account
    assert await user_of(services, bob) == await user_of(services, alice)


# -- caches ---------------------------------------------------------------------------------


async def test_a_process_with_an_old_copy_stores_on_the_kept_account(
    mira: Services, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    services = mira
    other_process = build_services(settings)
    await prepare(other_process)
    try:
        alice = chat(services, "alice-terminal-5d1c8e", Channel.TERMINAL)
        bob_here = chat(services, "+447700900456", Channel.WHATSAPP)
        bob_there = chat(other_process, bob_here.sender_id, Channel.WHATSAPP)
        alice_there = chat(other_process, alice.sender_id, Channel.TERMINAL)
        await alice.say("/start")
        await alice_there.say("Is this the same place?")  # cached there
        await bob_there.say("/start")  # cached there too
        await bob_there.say("What helps me sleep?")
        other = await user_of(services, bob_here)
        await bob_here.say(f"/link {await code_of(alice)}")
        keep = await user_of(services, alice)
        assert not await exists(services, other)

        caplog.clear()
        caplog.set_level(logging.INFO, logger="chorus.engine")
        await bob_there.say("And in the morning, quillberry?")
        await alice_there.say("Still here, zephyrine?")
        raced = [r for r in caplog.records if "raced another writer" in r.getMessage()]
        assert len(raced) >= 2  # both old copies were noticed, and the turns decided again
        assert not await exists(services, other)
        said = [text for _id, text in await history(services, keep)]
        assert "And in the morning, quillberry?" in said
        assert "Still here, zephyrine?" in said
        assert await user_of(other_process, bob_there) == keep
    finally:
        await close(other_process)


# -- on the channels ----------------------------------------------------------------------

TELEGRAM_TOKEN = "7000000003:AAF-linking-token-for-the-demo-bot_0123"
TELEGRAM_USER = 7_345_901_238
PUBLIC = "https://chorus.example"
HOOK = "/webhooks/whatsapp/demo"


@dataclass
class Apps:
    """Mira on Telegram and WhatsApp, reached through their webhooks; each method sends
    one message as the user and returns the text the bot sent back last."""

    client: Client
    telegram_api: FakeTelegram
    twilio: FakeTwilio
    secret: str

    @property
    def services(self) -> Services:
        return self.client.app[SERVICES]

    async def settle(self) -> None:
        assert self.services.inbox is not None
        for _ in range(2):
            await self.services.inbox.idle()
            await self.services.studio.idle()

    async def telegram(self, text: str) -> str:
        update = text_update(text, user_id=TELEGRAM_USER)
        assert await post_update(self.client, "demo", update, self.secret) == 200
        await self.settle()
        return str(self.telegram_api.calls_for("sendMessage")[-1].params.get("text", ""))

    async def whatsapp(self, text: str) -> str:
        form = text_message(text)
        headers = {"X-Twilio-Signature": sign(PUBLIC + HOOK, form, AUTH_TOKEN)}
        assert (await self.client.post(HOOK, data=form, headers=headers)).status == 200
        await self.settle()
        return str(self.twilio.calls_for()[-1].params.get("Body", ""))

    async def user(self, channel: str, sender: str) -> int:
        async with self.services.db.read() as session:
            party = await repo.find_party(session, "demo", channel, sender)
        assert party is not None
        return party.end_user_id


@pytest.fixture
async def apps(
    app_database: dict[str, str], aiohttp_server: AiohttpServer, tmp_path: Path
) -> AsyncIterator[Apps]:
    telegram = FakeTelegram()
    telegram.add_bot(TELEGRAM_TOKEN, username="mira_link_bot")
    twilio = FakeTwilio()
    twilio.base_url = str((await aiohttp_server(twilio.app())).make_url("")).rstrip("/")
    settings = await settings_for(
        telegram,
        aiohttp_server,
        tmp_path / "data",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=twilio.base_url,
        speech_enabled=False,
        **app_database,
    )
    client = await start(settings)
    try:
        await services_ready(client)
        services = client.app[SERVICES]
        await services.bots.change_settings("demo", pricing=PRICING)
        await services.telegram.attach("demo", TELEGRAM_TOKEN)
        await services.whatsapp.attach("demo", BUSINESS_NUMBER)
        secret = telegram.bots[TELEGRAM_TOKEN].webhook.secret_token
        assert secret
        yield Apps(client, telegram, twilio, secret)
    finally:
        await client.close()


async def test_a_telegram_and_a_whatsapp_user_become_one(apps: Apps) -> None:
    services, telegram_user = apps.services, str(TELEGRAM_USER)
    await apps.telegram("/start")
    await apps.telegram("What helps me sleep, zephyrine?")
    for step in RITUAL:
        await apps.telegram(step)
    keep = await apps.user("telegram", telegram_user)
    await services.credits.grant(await services.bots.get("demo"), keep, 5, "gift:telegram")
    await apps.whatsapp("/start")
    await apps.whatsapp("How do I breathe, quillberry?")
    other = await apps.user("whatsapp", USER_NUMBER)
    await services.credits.grant(await services.bots.get("demo"), other, 3, "gift:whatsapp")
    credits = (await credits_of(services, keep))[0] + (await credits_of(services, other))[0]
    assert credits == (10 - 2 + 5) + (10 + 3)
    before = await history(services, keep) + await history(services, other)

    found = CODE.search(await apps.telegram("/link"))
    assert found
    code = found.group(1)
    done = await apps.whatsapp(f"/link {code.lower()}")
    assert done == (
        DONE.format(chats="Telegram chat")
        + f" Your credits ({credits}), library (1 item) and history are together."
    )
    assert await apps.user("whatsapp", USER_NUMBER) == keep
    assert not await exists(services, other)
    assert await credits_of(services, keep) == (credits, 0)
    assert "Your library, newest first:\n1. " in await apps.whatsapp("/library")
    assert f"You have {credits} credits." in await apps.telegram("/credits")
    assert UNKNOWN in await apps.whatsapp(f"/link {code}")  # used up: nothing happens twice
    assert await credits_of(services, keep) == (credits, 0)

    await apps.telegram("And in the morning?")
    await apps.whatsapp("Thank you")
    after = await history(services, keep)
    assert set(before) <= set(after)
    said = [text for _id, text in after]
    for text in ("What helps me sleep, zephyrine?", "How do I breathe, quillberry?"):
        assert text in said
    assert said.index("And in the morning?") < said.index("Thank you")
