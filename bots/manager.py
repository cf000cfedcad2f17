"""The platform's manager bot: creators set up and run their agents by chatting with it.

Every Telegram user who talks to the manager bot is a (possible) creator. ``/newbot``
creates an agent they own; every other command applies to the agent they chose last
(``/use``), and only ever to agents they own. The knowledge commands are the same
:class:`CreatorCommands` a creator can use inside their own bot's chat.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from bots.broadcasts import CreatorBroadcasts
from bots.commands import CreatorCommands
from bots.handoff import HumanHandoff
from bots.profile import BotProfile
from bots.registry import MANAGER_ID, MAX_TEXT, BotDirectory
from bots.schedules import NAMES as SCHEDULE_COMMANDS
from bots.schedules import CreatorSchedules
from bots.stats import CreatorStats
from core.errors import ChannelRefused, ChannelUnreachable, UnknownBot
from core.messages import Attachment, AttachmentKind, InboundMessage, OutboundMessage
from core.outbox import Address
from webwidget.embed import embed_snippet

log = logging.getLogger("chorus.manager")

#: attaches a BotFather token (or a WhatsApp number) to a bot; returns the username (number)
Attach = Callable[[str, str], Awaitable[str]]

MAX_BOTS = 20
# BotFather tokens: the bot's numeric id, a colon, then 35 URL-safe characters
TOKEN_SHAPE = re.compile(r"\d{5,16}:[A-Za-z0-9_-]{30,64}")

#: the command menu creators see (name, description), in the order shown
COMMANDS: tuple[tuple[str, str], ...] = (
    ("newbot", "Create a new agent"),
    ("bots", "Your agents, and which one you're working on"),
    ("use", "Work on another of your agents"),
    ("persona", "How your agent speaks"),
    ("greeting", "Your agent's first message"),
    ("token", "Put your agent on its own Telegram bot"),
    ("whatsapp", "Answer on a WhatsApp number (through Twilio)"),
    ("docs", "The documents your agent knows"),
    ("deldoc", "Delete a document"),
    ("ask", "Test a question and see the sources"),
    ("widget", "The code for your website's chat bubble"),
    ("origins", "The websites your chat bubble may appear on"),
    ("theme", "Your chat bubble's colour, title, side and picture"),
    ("pricing", "Prices, credit packs and monthly plans"),
    ("grant", "Give a user credits"),
    ("features", "Switch guided creation on or off"),
    ("languages", "The languages your agent speaks, its greeting in each"),
    ("ambience", "Rain, a soft pad or your music under recorded content"),
    ("stats", "Numbers and a chart of the last 30 days"),
    ("broadcast", "Send a message to all your users"),
    ("schedule", "Send a message to all your users on a timetable"),
    ("schedules", "Your scheduled messages"),
    ("unschedule", "Delete a scheduled message"),
    ("takeover", "Talk to one of your users yourself"),
    ("release", "Hand that user back to your agent"),
    ("pause", "Stop answering end users for now"),
    ("resume", "Answer end users again"),
    ("help", "What I can do"),
)

HELP = """I help you build an AI agent that answers from your own documents on Telegram \
and your website.

/newbot NAME creates an agent. Then, for the agent you're working on:
/persona TEXT sets how it speaks, /greeting TEXT its first message.
Send me a document (PDF, DOCX, HTML, Markdown or text) or a photo or scan of a page \
and it learns from it.
/docs lists its documents, /deldoc ID deletes one, /ask QUESTION shows what it would \
answer from.
/token TOKEN puts it on your own Telegram bot (get a token from @BotFather).
/widget gives you the code for a chat bubble on your website, and /origins add \
https://your.site lets it appear there; /theme sets its colour, title, side and picture.
/pricing sets what content costs and the credit packs and plans on sale; /grant USER N \
gives a user credits.
/features shows what it offers besides answers; /features create off stops it offering \
guided meditations, affirmations and rituals (for a support bot, say).
/languages shows the languages it speaks; /languages offer en es, /languages default es \
and /languages greeting es TEXT change them.
/ambience rain (or pad, music, off) puts a soft bed under the voice of its \
recordings; /ambience level -22 sets how far under the voice it sits.
/stats shows its numbers and a chart of the last 30 days.
/broadcast TEXT sends a message to all its users (you see who first, and confirm).
/schedule 08:00 TEXT sends TEXT to all its users every day at 08:00 their time \
(/schedule mon,wed,fri 08:00 TEXT on some days); /schedules lists them, /unschedule N \
deletes one, /pauseschedule N and /resumeschedule N pause and resume one.
/pause and /resume stop and restart its answers to your users.
/takeover lists its latest conversations and /takeover N lets you answer user N \
yourself (your messages go to them, theirs come here) until /release.
/bots lists your agents; /use ID switches between them."""


class ManagerBot:
    """Answers the creators who write to the manager bot."""

    def __init__(
        self,
        bots: BotDirectory,
        tools: CreatorCommands,
        attach_telegram: Attach,
        attach_whatsapp: Attach,
        whatsapp_report: Callable[[str], Awaitable[str]],
        whatsapp_claim: Attach,
        *,
        public_base_url: str,
        own_token: str,
        stats: CreatorStats,
        handoff: HumanHandoff | None = None,
        schedules: CreatorSchedules | None = None,
        broadcasts: CreatorBroadcasts | None = None,
    ) -> None:
        self._bots = bots
        self._tools = tools
        self._attach = attach_telegram
        self._attach_whatsapp = attach_whatsapp
        self._whatsapp_report = whatsapp_report
        self._whatsapp_claim = whatsapp_claim
        self._public = public_base_url.rstrip("/")
        self._own_token = own_token
        self._stats = stats
        self._handoff = handoff
        self._schedules = schedules
        self._broadcasts = broadcasts

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]:
        """The replies to one message from a creator."""
        if "/" in message.sender_id:  # a group chat: configuration is private
            return _say("Let's talk in a private chat: open one with me and send /start.")
        who = (message.channel.value, message.sender_id)
        command = message.command
        chat = Address(MANAGER_ID, message.channel.value, message.sender_id)
        if command is None and message.text and not message.attachments and self._handoff:
            # while the creator talks with one of their users, their words go to that user
            relayed = await self._handoff.relay(chat, await self._bots.owned_by(*who), message.text)
            if relayed is not None:
                return relayed
        if command in ("takeover", "release") and self._handoff is not None:
            mine = await self._bots.owned_by(*who)
            current = await self._bots.chosen(*who) if mine else None
            return await self._handoff.command(
                command, message.command_args, chat, message.sender_name, mine, current
            )
        if command in ("start", "help", None) and not message.attachments:
            if command is None and message.text:
                return _say(
                    "I set up agents through commands: /newbot NAME creates one, "
                    "/help lists the rest."
                )
            return await self._welcome(who)
        if command == "newbot":
            return await self._new_bot(who, message.command_args, message.sender_name)
        if command == "bots":
            return await self._list(who)
        if command == "use":
            return await self._use(who, message.command_args)
        # a mistyped token is pointed out whatever else is wrong
        if command == "token" and not TOKEN_SHAPE.fullmatch(message.command_args.strip()):
            return _say(
                "Send /token followed by the token @BotFather gave you, like /token 123456789:AAE…"
            )
        bot = await self._bots.chosen(*who)
        if bot is None:
            return _say("You have no agent yet. Create one with /newbot followed by its name.")
        if command is None:
            return await self._document(bot, message.attachments, chat)
        if command in ("persona", "greeting"):
            return await self._describe(bot, command, message.command_args)
        if command == "token":
            return await self._token(bot, message.command_args.strip())
        if command == "whatsapp":
            return await self._whatsapp(bot, message.command_args.strip())
        if command in self._tools.names:
            return await self._tools.run(command, message.command_args, bot)
        if command == "stats":
            return await self._stats.reply(bot)
        if command in SCHEDULE_COMMANDS and self._schedules is not None:
            return await self._schedules.command(command, message.command_args, bot)
        if command == "broadcast" and self._broadcasts is not None:
            return await self._broadcasts.command(message.command_args, bot, chat)
        if command == "widget":
            return _say(
                f"Paste this into your website's HTML to add {bot.name}'s chat bubble:\n\n"
                f"{embed_snippet(self._public, bot.id)}"
            )
        if command in ("pause", "resume"):
            paused = command == "pause"
            if bot.paused == paused:
                return _say(f"{bot.name} is already {'paused' if paused else 'answering'}.")
            await self._bots.update(bot.id, paused=paused)
            if paused:
                return _say(
                    f"{bot.name} is paused: users are told it's taking a break. "
                    "You can still test it. /resume to switch it back on."
                )
            return _say(f"{bot.name} is answering users again.")
        return _say(f"/{command} isn't something I know. Send /help for the list.")

    async def _welcome(self, who: tuple[str, str]) -> list[OutboundMessage]:
        bot = await self._bots.chosen(*who)
        where = (
            f"You're working on {bot.name} ({bot.id})."
            if bot
            else "Start with /newbot followed by your agent's name."
        )
        return _say(f"{HELP}\n\n{where}")

    async def _new_bot(
        self, who: tuple[str, str], name: str, sender_name: str | None
    ) -> list[OutboundMessage]:
        name = " ".join(name.split())
        if not name:
            return _say("What should your agent be called? Send /newbot followed by its name.")
        if len(await self._bots.owned_by(*who)) >= MAX_BOTS:
            return _say(f"You already have {MAX_BOTS} agents, the most one creator can have.")
        try:
            bot = await self._bots.create(name, creator=who, creator_name=sender_name or "")
        except ValueError as exc:
            return _say(f"I couldn't create that agent: {exc}.")
        log.info("a creator made bot %s through the manager bot", bot.id)
        return _say(
            f"{bot.name} is ready (id {bot.id}). Next:\n"
            "• /persona — how it speaks, for example: warm, calm, encouraging\n"
            "• /greeting — the first thing your users read\n"
            "• send me your documents so it can answer from them\n"
            "• /token — put it on its own Telegram bot"
        )

    async def _list(self, who: tuple[str, str]) -> list[OutboundMessage]:
        mine = await self._bots.owned_by(*who)
        if not mine:
            return _say("You have no agents yet. Create one with /newbot followed by its name.")
        current = await self._bots.chosen(*who)
        lines = ["Your agents:"]
        for bot in mine:
            marks = (" ← working on" if current and bot.id == current.id else "") + (
                " (paused)" if bot.paused else ""
            )
            lines.append(f"• {bot.id}  {bot.name}{marks}")
        lines.append("Switch with /use ID.")
        return _say("\n".join(lines))

    async def _use(self, who: tuple[str, str], args: str) -> list[OutboundMessage]:
        bot_id = args.strip().split()[0] if args.strip() else ""
        if not bot_id:
            return _say("Which agent? Send /use followed by an id from /bots.")
        try:
            bot = await self._bots.choose(*who, bot_id)
        except UnknownBot:
            return _say(f"You have no agent with the id {bot_id[:64]}. /bots lists yours.")
        return _say(f"Now working on {bot.name} ({bot.id}).")

    async def _describe(self, bot: BotProfile, field: str, text: str) -> list[OutboundMessage]:
        current = bot.persona if field == "persona" else bot.greeting
        if not text.strip():
            shown = f"“{current}”" if current else "not set yet"
            return _say(
                f"{bot.name}'s {field} is {shown}.\n"
                f"Change it with /{field} followed by the new text."
            )
        if len(text.strip()) > MAX_TEXT:
            return _say(f"That's too long: a {field} can be at most {MAX_TEXT:,} characters.")
        if field == "persona":
            await self._bots.update(bot.id, persona=text)
        else:
            await self._bots.update(bot.id, greeting=text)
        return _say(f"Saved {bot.name}'s new {field}.")

    async def _token(self, bot: BotProfile, token: str) -> list[OutboundMessage]:
        if token == self._own_token:
            return _say(
                "That's my own token. Create a new bot with @BotFather and send me its token."
            )
        try:
            username = await self._attach(bot.id, token)
        except ChannelRefused as exc:
            return _say(
                f"Telegram didn't accept that token ({exc.reason}). Copy it again from @BotFather."
            )
        except ChannelUnreachable:
            return _say("I couldn't reach Telegram just now. Please send the token again soon.")
        return _say(
            f"{bot.name} is now @{username} on Telegram: anyone can talk to it at "
            f"https://t.me/{username}. I removed your message with the token from this chat."
        )

    async def _whatsapp(self, bot: BotProfile, number: str) -> list[OutboundMessage]:
        if not number:
            report = await self._whatsapp_report(bot.id)
            return _say(
                f"{report}\nTo answer on a number, send /whatsapp followed by your Twilio "
                "WhatsApp sender, like /whatsapp +14155238886."
            )
        if number.split()[0].lower() == "me":
            return await self._claim_whatsapp(bot, number[2:].strip())
        try:
            bound = await self._attach_whatsapp(bot.id, number)
        except ValueError as exc:
            return _say(f"{exc}.")
        except ChannelRefused as exc:
            return _say(f"WhatsApp isn't available on this server: {exc.reason}.")
        return _say(
            f"{bot.name} now answers WhatsApp messages to {bound}. In Twilio, set that "
            f"sender's incoming webhook to {self._public}/webhooks/whatsapp/{bot.id}"
        )

    async def _claim_whatsapp(self, bot: BotProfile, mine: str) -> list[OutboundMessage]:
        if not mine:
            return _say("Send /whatsapp me followed by your own WhatsApp number.")
        try:
            code = await self._whatsapp_claim(bot.id, mine)
        except ValueError as exc:
            return _say(f"{exc}.")
        return _say(
            f"To prove {mine} is yours, send {code} from it to {bot.name}'s WhatsApp number "
            "within 15 minutes. Then documents you send there are learned, as here."
        )

    async def _document(
        self, bot: BotProfile, attachments: tuple[Attachment, ...], chat: Address
    ) -> list[OutboundMessage]:
        documents = [a for a in attachments if a.kind is AttachmentKind.DOCUMENT]
        if not attachments:
            return _say("Send /help to see what I can do.")
        replies: list[OutboundMessage] = []
        for attachment in documents or attachments[:1]:
            replies += await self._tools.ingest(bot, attachment, chat)
        return replies


def _say(text: str) -> list[OutboundMessage]:
    return [OutboundMessage(text=text)]
