"""End users' data rights: /export sends everything kept about them as a JSON file, and
/forget, once confirmed, leaves no row in any table and no file of theirs, and nothing of
anyone else's is touched (SQLite and PostgreSQL; the engine, the inbox and the channels'
own records as they really are)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select

from bots.profile import BotProfile
from channels.whatsapp_records import WhatsAppRecords
from channels.widget_frames import checked_frame
from core.conversation.data_rights import BUTTONS, CONFIRM_SECONDS, QUESTION, DataRights
from core.conversation.statemachine import State
from core.conversation.turn import TurnResult
from core.messages import Channel, InboundMessage, OutboundKind
from core.services import SERVICES, Services
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import CreditAccount, EndUser, Payment, StripeRefund
from tests.chat import Chat, chat_with
from tests.clock import Clock
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import callback_update, command_update, text_update
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.twilio_requests import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    USER_NUMBER,
    sign,
    text_message,
)
from tests.ownership import (
    Ownership,
    everything,
    missing,
    owned_by,
    references_to,
    unchanged,
)
from tests.test_channels.telegram_app import post_update, services_ready, settings_for, start
from tests.test_channels.test_widget_protocol import answered, hello

PRICING = {"free_credits": 10, "costs": {"ritual": 2}, "question_cost": 1, "free_questions": 1}
RITUAL = ("/create ritual", "calm", "evening", "tired", "5")
SENDERS = {
    Channel.TERMINAL: ("alice-terminal-5d1c8e", "bob-terminal-93ab0c"),
    Channel.WIDGET: ("v_alice5d1c8e2f4a6b8c0d", "v_bob93ab0c47e1f2a3b4"),
    Channel.WHATSAPP: ("+447700900123", "+447700900456"),
}
YES, NO = (b.payload for b in BUTTONS)
# the channels' own records of a user, which no foreign key ties to them
CHANNEL_TABLES = {
    Channel.TELEGRAM: {"inbound_updates"},
    Channel.WIDGET: {"inbound_updates", "widget_frames"},
    Channel.WHATSAPP: {"inbound_updates", "whatsapp_contacts", "outbound_messages"},
}


@dataclass
class Person:
    """An end user with some of everything kept about them."""

    chat: Chat
    marker: str  # a word only this person ever says
    end_user_id: int = 0

    @property
    def sender(self) -> str:
        return self.chat.sender_id


async def party_of(services: Services, person: Person) -> repo.Party | None:
    async with services.db.read() as session:
        return await repo.find_party(
            session, "demo", person.chat.channel.value, person.chat.sender_id
        )


async def populate(services: Services, person: Person) -> None:
    """Questions (one free, one paid), a spoken reply, a ritual with its audio in the
    library and its script sent as a file, credits with a purchase and part of it
    refunded, and an export: rows in every table an end user has, and files."""
    chat, marker = person.chat, person.marker
    await chat.say("/start")
    await chat.say(f"How should I breathe when I feel anxious, {marker}?")
    await chat.say("/voice on")
    await chat.say(f"What helps me sleep in the evening, {marker}?")  # paid, and spoken
    await chat.say("/voice off")
    for step in RITUAL:
        await chat.say(step)
    await chat.press("voice:on")
    await chat.say("yes")  # made by the studio, with audio, and charged
    assert any(r.kind is OutboundKind.AUDIO for r in chat.last), chat.text
    await chat.say("/library 1")
    assert any(r.kind is OutboundKind.DOCUMENT for r in chat.last)
    party = await party_of(services, person)
    assert party is not None
    person.end_user_id = party.end_user_id
    async with services.db.transaction() as session:
        account = await session.scalar(
            select(CreditAccount.id).where(CreditAccount.end_user_id == party.end_user_id)
        )
        assert account is not None
        session.add(
            Payment(
                id=f"cs_test_{marker}_purchase",
                account_id=account,
                bot_id="demo",
                channel=chat.channel.value,
                sender_id=chat.sender_id,
                offer="small",
                mode="payment",
                credits=10,
                amount=499,
                currency="eur",
                url=f"https://checkout.stripe.com/c/pay/cs_test_{marker}_purchase",
                status="paid",
                payment_intent=f"pi_{marker}_purchase",
                idempotency_key=f"checkout:{marker}:small",
            )
        )
        session.add(
            StripeRefund(payment_intent=f"pi_{marker}_purchase", amount_refunded=100, amount=499)
        )
    await services.credits.ledger.post(
        account,
        kind="purchase",
        amount=10,
        key=f"purchase:cs_test_{marker}_purchase",
        cause=f"stripe:evt_{marker}_paid",
    )
    await chat.say("/export")


async def channel_records(services: Services, person: Person) -> None:
    """What the person's channel keeps about them, written by the channels' own code: a
    message through the inbox (the update, and on the widget its numbered frames) and
    a voice note file on the widget; the contact and a sent message on WhatsApp."""
    channel, sender, marker = person.chat.channel, person.sender, person.marker
    if channel is Channel.WIDGET:
        frame = {"type": "message", "id": f"w-{marker}", "text": f"Hello again, {marker}"}
        assert services.inbox is not None
        await services.inbox.accept(
            "demo", channel.value, f"{sender}:{frame['id']}", {"visitor": sender, "frame": frame}
        )
        await services.inbox.idle()
        voice = {"type": "voice", "id": f"v-{marker}", "mime": "audio/ogg"}
        voice["data"] = base64.b64encode(b"OggS" + marker.encode()).decode()
        await checked_frame(
            voice["id"], voice, visitor=sender, voice_dir=voice_notes(services), max_voice=10_000
        )
    if channel is Channel.WHATSAPP:
        form = {"From": f"whatsapp:{sender}", "MessageSid": f"SM{marker}", "Body": "hello"}
        assert services.inbox is not None
        await services.inbox.accept("demo", channel.value, form["MessageSid"], form)
        await services.inbox.idle()
        records = WhatsAppRecords(services.db, services.bots)
        await records.touch("demo", sender)
        await records.sent("demo", sender, "delivered", "Hello", provider_id=f"SM{marker}out")


async def tables_referring(services: Services, owned: Ownership) -> set[str]:
    """The tables with rows that mention the user (before they are erased)."""
    return {found.split(" ", 1)[0] for found in await references_to(services, owned)}


def voice_notes(services: Services) -> Path:
    return services.settings.data_dir / "widget-voice"


def files_of(services: Services, owned: Ownership) -> set[Path]:
    paths = {services.media.root / m.removeprefix("media:") for m in owned.media()}
    return paths | set(voice_notes(services).glob(f"{owned_sender(owned)}-*.audio"))


def owned_sender(owned: Ownership) -> str:
    return str(owned.rows["channel_identities"][0]["external_id"])


async def two_people(services: Services, channel: Channel) -> tuple[Person, Person]:
    await services.bots.change_settings("demo", pricing=PRICING)
    alice_id, bob_id = SENDERS[channel]
    alice = Person(chat_with(services, sender_id=alice_id, channel=channel), "zephyrine")
    bob = Person(chat_with(services, sender_id=bob_id, channel=channel), "quillberry")
    for person in (alice, bob):
        await populate(services, person)
        await channel_records(services, person)
    return alice, bob


async def exported(services: Services, person: Person) -> dict[str, Any]:
    replies = await person.chat.say("/export")
    (document,) = [r.document for r in replies if r.kind is OutboundKind.DOCUMENT]
    assert document is not None
    assert document.mime_type == "application/json"
    assert document.filename is not None
    assert document.filename.endswith(".json")
    path = services.media.path(document.reference)
    assert path is not None
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


async def test_export_holds_the_users_data_and_nothing_of_another_user(
    services: Services,
) -> None:
    alice, bob = await two_people(services, Channel.TERMINAL)
    data = await exported(services, alice)
    assert data["format"] == "chorus.end-user-export/1"
    assert data["profile"]["id"] == alice.end_user_id
    assert [i["external_id"] for i in data["identities"]] == [alice.sender]
    said = [m["text"] for m in data["conversation"]["messages"] if m["direction"] == "in"]
    assert f"How should I breathe when I feel anxious, {alice.marker}?" in said
    assert "/export" in said  # the export before this one
    (item,) = data["library"]
    assert item["content_type"] == "ritual"
    assert item["text"]
    assert item["audio"]["ogg"].startswith("media:")
    assert [j["status"] for j in data["content_jobs"]] == ["done"]
    credits = data["credits"]
    kinds = [e["kind"] for e in credits["ledger"]]
    assert kinds[0] == "free_grant"
    assert {"reserve", "capture", "purchase"} <= set(kinds), credits
    assert credits["balance"] == credits["ledger"][-1]["balance_after"] == 10 - 1 - 2 + 10, credits
    assert [p["id"] for p in credits["payments"]] == [f"cs_test_{alice.marker}_purchase"]
    assert [h["status"] for h in credits["holds"]] == ["captured", "captured"]
    assert credits["question_usage"][0]["used"] == 2
    whole = json.dumps(data)
    # nothing of Bob's, and none of the internal bookkeeping
    assert bob.marker not in whole
    assert bob.sender not in whole
    for internal in ("idempotency_key", "checkout.stripe.com", "reservation"):
        assert internal not in whole
    owned_bob = await owned_by(services, bob.end_user_id, bob.sender)
    assert not [mark for mark in owned_bob.marks if mark in whole]


async def test_forget_asks_first_and_no_keeps_everything(services: Services) -> None:
    alice, _ = await two_people(services, Channel.TERMINAL)
    before = await owned_by(services, alice.end_user_id, alice.sender)
    files = files_of(services, before)
    replies = await alice.chat.say("/forget")
    assert "can't be undone" in replies[-1].text
    assert [b.payload for b in replies[-1].buttons] == [YES, NO]
    await alice.chat.press(NO)
    assert "nothing was deleted" in alice.chat.text
    await alice.chat.say("/forget")
    await alice.chat.say("no")  # typed, as on a channel without buttons
    assert "nothing was deleted" in alice.chat.text
    assert not missing(before, await everything(services))
    assert all(path.is_file() for path in files)
    assert (await exported(services, alice))["library"]


async def test_any_other_message_withdraws_the_question(services: Services) -> None:
    chat = chat_with(services, sender_id="carol-7e21d9")
    await chat.say("/create affirmations")
    await chat.say("/forget")
    await chat.say("What helps me sleep?")  # not an answer: the question lapses
    await chat.say("yes")  # now just a word in the conversation
    assert "deleted" not in chat.text
    old_button = InboundMessage(chat.channel, "demo", chat.sender_id, button_payload=YES)
    await chat.send(old_button)  # an old button: asked again, nothing deleted
    assert "can't be undone" in chat.text
    assert await party_of(services, Person(chat, "")) is not None


async def test_an_unanswered_question_expires(services: Services) -> None:
    chat = chat_with(services, sender_id="dave-41c0aa")
    await chat.say("/start")
    party = await party_of(services, Person(chat, ""))
    assert party is not None
    bot = await services.bots.get("demo")
    clock = Clock()
    rights = DataRights(services.privacy, clock=clock)
    asked = TurnResult.begin(State(party.state), party.context)
    await rights.forget("", bot, party, asked)
    assert QUESTION in asked.context
    clock.now += CONFIRM_SECONDS + 1
    late = TurnResult.begin(State(party.state), asked.context)
    assert await rights.forget("yes", bot, party, late) is None
    assert "expired" in late.replies[-1].text
    assert await party_of(services, Person(chat, "")) is not None


@pytest.mark.parametrize("channel", [Channel.WIDGET, Channel.WHATSAPP])
async def test_forget_yes_leaves_nothing_of_the_user_and_all_of_the_others(
    services: Services, channel: Channel
) -> None:
    alice, bob = await two_people(services, channel)
    theirs = await owned_by(services, alice.end_user_id, alice.sender)
    kept = await owned_by(services, bob.end_user_id, bob.sender)
    assert CHANNEL_TABLES[channel] <= await tables_referring(services, theirs)
    assert {"messages", "content_items", "ledger_entries", "payments"} <= set(theirs.rows)
    files, others = files_of(services, theirs), files_of(services, kept)
    assert len(files) >= 5
    assert all(path.is_file() for path in files | others)
    assert any(p.suffix == ".audio" for p in files) is (channel is Channel.WIDGET)

    await alice.chat.say("/forget")
    assert await party_of(services, alice) is not None  # asked, nothing deleted yet
    if channel is Channel.WHATSAPP:
        await alice.chat.say("Yes")  # typed, as a numbered option's label would be
    else:
        await alice.chat.press(YES)
    assert "I've deleted everything" in alice.chat.text
    assert "Stripe" in alice.chat.text

    assert await references_to(services, theirs) == []
    assert not [path for path in files if path.exists()]
    assert not unchanged(kept, await everything(services))
    assert all(path.is_file() for path in others)

    # writing again starts afresh, as somebody new
    replies = await alice.chat.say("hello")
    bot: BotProfile = await services.bots.get("demo")
    assert replies[0].text == bot.welcome
    party = await party_of(services, alice)
    assert party is not None
    async with services.db.read() as session:
        assert await repo.library(session, party.end_user_id) == []
        assert (await session.get(EndUser, party.end_user_id)) is not None
    await alice.chat.say("/credits")
    assert "10" in alice.chat.text  # the free credits of a new user, nothing carried over


def stored_files(services: Services) -> set[Path]:
    """Every file in the media folder and the widget's voice notes."""
    folders = (services.media.root, voice_notes(services))
    return {p for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file()}


async def test_forget_leaves_the_files_as_they_were_before_the_user_came(
    services: Services,
) -> None:
    await services.bots.change_settings("demo", pricing=PRICING)
    alice_id, bob_id = SENDERS[Channel.WIDGET]
    bob = Person(chat_with(services, sender_id=bob_id, channel=Channel.WIDGET), "quillberry")
    await populate(services, bob)
    await channel_records(services, bob)
    before = stored_files(services)
    # spoken replies, a ritual with its audio and script, an export, a widget voice note
    alice = Person(chat_with(services, sender_id=alice_id, channel=Channel.WIDGET), "zephyrine")
    await populate(services, alice)
    await channel_records(services, alice)
    theirs = stored_files(services) - before
    assert {".ogg", ".mp3", ".txt", ".json", ".audio"} <= {p.suffix for p in theirs}
    await alice.chat.say("/forget")
    await alice.chat.press(YES)
    assert "I've deleted everything" in alice.chat.text
    assert stored_files(services) == before


async def test_forget_from_someone_never_seen_stores_nothing(services: Services) -> None:
    chat = chat_with(services, sender_id="erin-0b9f33")
    replies = await chat.say("/forget")
    assert "nothing to delete" in replies[-1].text
    assert await party_of(services, Person(chat, "")) is None


# -- on the channels ----------------------------------------------------------------------

TELEGRAM_TOKEN = "7000000002:AAF-data-rights-token-for-the-demo_0123"
TELEGRAM_USER = 7_345_901_237


async def test_telegram_gets_the_export_as_a_json_document_then_forget_clears_the_chat(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    fake = FakeTelegram()
    fake.add_bot(TELEGRAM_TOKEN, username="mira_demo_bot")
    settings = await settings_for(fake, aiohttp_server, tmp_path / "data", speech_enabled=False)
    client = await start(settings)
    try:
        services = client.app[SERVICES]
        await services_ready(client)
        await services.telegram.attach("demo", TELEGRAM_TOKEN)
        secret = fake.bots[TELEGRAM_TOKEN].webhook.secret_token
        assert secret

        async def post(update: dict[str, Any]) -> str:
            assert await post_update(client, "demo", update, secret) == 200
            assert services.inbox is not None
            await services.inbox.idle()
            return str(fake.calls_for("sendMessage")[-1].params.get("text", ""))

        await post(command_update("start", user_id=TELEGRAM_USER))
        await post(text_update("What helps me sleep, zephyrine?", user_id=TELEGRAM_USER))
        await post(command_update("export", user_id=TELEGRAM_USER))
        (call,) = fake.calls_for("sendDocument")
        assert call.status == 200
        assert call.params["chat_id"] == TELEGRAM_USER
        upload = call.files["document"]
        assert upload.filename.endswith(".json")
        data = json.loads(upload.data)
        assert [i["external_id"] for i in data["identities"]] == [str(TELEGRAM_USER)]
        texts = [m["text"] for m in data["conversation"]["messages"]]
        assert "What helps me sleep, zephyrine?" in texts
        assert call.result["document"]["file_name"] == upload.filename

        async with services.db.read() as session:
            party = await repo.find_party(session, "demo", "telegram", str(TELEGRAM_USER))
        assert party is not None
        theirs = await owned_by(services, party.end_user_id, str(TELEGRAM_USER))
        assert CHANNEL_TABLES[Channel.TELEGRAM] <= await tables_referring(services, theirs)
        await post(command_update("forget", user_id=TELEGRAM_USER))
        markup = fake.calls_for("sendMessage")[-1].params["reply_markup"]
        offered = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
        assert offered == [YES, NO]
        done = await post(callback_update(YES, user_id=TELEGRAM_USER))
        assert "I've deleted everything" in done
        assert await references_to(services, theirs) == []
        assert not [p for p in files_of(services, theirs) if p.exists()]
        greeting = await post(text_update("hello", user_id=TELEGRAM_USER))
        bot = await services.bots.get("demo")
        assert greeting.startswith(bot.welcome[:20])
    finally:
        await client.close()


async def test_the_widget_starts_over_after_forget_and_keeps_no_frame(tmp_path: Path) -> None:
    client = await start(Settings(data_dir=tmp_path / "data", speech_enabled=False))
    try:
        await services_ready(client)
        services = client.app[SERVICES]
        ws = await client.ws_connect("/ws/widget/demo")
        welcome = await hello(ws)
        visitor = welcome["visitor"]
        await ws.send_json({"type": "message", "id": "c-0", "text": "How do I breathe?"})
        await answered(ws)
        await ws.send_json({"type": "message", "id": "c-1", "text": "/forget"})
        asked = [f for f in await answered(ws) if f["type"] == "reply"]
        assert [b["payload"] for b in asked[-1]["message"]["buttons"]] == [YES, NO]
        async with services.db.read() as session:
            party = await repo.find_party(session, "demo", "widget", visitor)
        assert party is not None
        theirs = await owned_by(services, party.end_user_id, visitor)
        assert CHANNEL_TABLES[Channel.WIDGET] <= await tables_referring(services, theirs)
        label = "Yes, delete everything"
        await ws.send_json({"type": "button", "id": "c-2", "payload": YES, "label": label})
        frames = await answered(ws)
        said = next(f for f in frames if f["type"] == "said")
        again = next(f for f in frames if f["type"] == "welcome")
        (done,) = [f for f in frames if f["type"] == "reply"]
        assert frames.index(said) < frames.index(again) < frames.index(done)
        assert (again["visitor"], again["seq"]) == (visitor, 0)
        assert "session" not in again  # the page keeps its session
        assert "seq" not in done  # not stored
        assert "I've deleted everything" in done["message"]["text"]
        assert await references_to(services, theirs) == []
        # the same page goes on, numbered from 1 again, as somebody new
        await ws.send_json({"type": "message", "id": "c-3", "text": "hello"})
        frames = await answered(ws)
        assert [f["seq"] for f in frames if "seq" in f] == [1, 2]
        await ws.close()
    finally:
        await client.close()


async def test_whatsapp_gets_the_export_as_a_link_and_forget_keeps_no_record(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("")).rstrip("/")
    public = "https://chorus.example"
    settings = Settings(
        data_dir=tmp_path / "data",
        public_base_url=public,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=fake.base_url,
        speech_enabled=False,
    )
    client = await start(settings)
    try:
        await services_ready(client)
        services = client.app[SERVICES]
        await services.whatsapp.attach("demo", BUSINESS_NUMBER)
        hook = "/webhooks/whatsapp/demo"

        async def post(body: str) -> str:
            form = text_message(body)
            headers = {"X-Twilio-Signature": sign(public + hook, form, AUTH_TOKEN)}
            assert (await client.post(hook, data=form, headers=headers)).status == 200
            assert services.inbox is not None
            await services.inbox.idle()
            return str(fake.calls_for()[-1].params.get("Body", ""))

        await post("/start")
        await post("/export")
        (link,) = fake.calls_for()[-1].values("MediaUrl")
        assert link.startswith(f"{public}/media/")
        download = await client.get(urlsplit(link).path)
        assert download.status == 200
        assert download.content_type == "application/json"
        data = json.loads(await download.read())
        assert [i["external_id"] for i in data["identities"]] == [USER_NUMBER]

        async with services.db.read() as session:
            party = await repo.find_party(session, "demo", "whatsapp", USER_NUMBER)
        assert party is not None
        theirs = await owned_by(services, party.end_user_id, USER_NUMBER)
        assert CHANNEL_TABLES[Channel.WHATSAPP] <= await tables_referring(services, theirs)
        asked = await post("/forget")
        assert "1. Yes, delete everything" in asked
        done = await post("1")  # the first numbered option
        assert "deleted everything" in done
        assert await references_to(services, theirs) == []
        assert not [p for p in files_of(services, theirs) if p.exists()]
    finally:
        await client.close()
