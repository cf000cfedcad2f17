"""The platform's manager bot: creators set up and run their agents by chatting with it.

Every Telegram user who talks to the manager bot is a (possible) creator. ``/newbot``
creates an agent they own; every other command applies to the agent they chose last
(``/use``), and only ever to agents they own. The knowledge commands are the same
:class:`CreatorCommands` a creator can use inside their own bot's chat. Replies are in
the language of the creator's Telegram app (``InboundMessage.language``), and the command
menu is set in every shipped language.
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
from core.errors import ChannelRefused, ChannelUnreachable, Refusal, UnknownBot
from core.i18n.translator import ENGLISH, N_, Translator, translator
from core.messages import Attachment, AttachmentKind, InboundMessage, OutboundMessage
from core.outbox import Address
from webwidget.embed import embed_snippet

log = logging.getLogger("chorus.manager")

#: attaches a BotFather token (or a WhatsApp number) to a bot; returns the username (number)
Attach = Callable[[str, str], Awaitable[str]]

MAX_BOTS = 20
# BotFather tokens: the bot's numeric id, a colon, then 35 URL-safe characters
TOKEN_SHAPE = re.compile(r"\d{5,16}:[A-Za-z0-9_-]{30,64}")

#: the command menu creators see (name, description), in the order shown; the
#: descriptions are translated per language when the menu is set
COMMANDS: tuple[tuple[str, str], ...] = (
    ("newbot", N_("Create a new agent")),
    ("bots", N_("Your agents, and which one you're working on")),
    ("use", N_("Work on another of your agents")),
    ("persona", N_("How your agent speaks")),
    ("greeting", N_("Your agent's first message")),
    ("token", N_("Put your agent on its own Telegram bot")),
    ("whatsapp", N_("Answer on a WhatsApp number (through Twilio)")),
    ("docs", N_("The documents your agent knows")),
    ("deldoc", N_("Delete a document")),
    ("ask", N_("Test a question and see the sources")),
    ("widget", N_("The code for your website's chat bubble")),
    ("origins", N_("The websites your chat bubble may appear on")),
    ("theme", N_("Your chat bubble's colour, title, side and picture")),
    ("pricing", N_("Prices, credit packs and monthly plans")),
    ("grant", N_("Give a user credits")),
    ("features", N_("Switch guided creation on or off")),
    ("languages", N_("The languages your agent speaks, its greeting in each")),
    ("ambience", N_("Rain, a soft pad or your music under recorded content")),
    ("stats", N_("Numbers and a chart of the last 30 days")),
    ("broadcast", N_("Send a message to all your users")),
    ("schedule", N_("Send a message to all your users on a timetable")),
    ("schedules", N_("Your scheduled messages")),
    ("unschedule", N_("Delete a scheduled message")),
    ("takeover", N_("Talk to one of your users yourself")),
    ("release", N_("Hand that user back to your agent")),
    ("pause", N_("Stop answering end users for now")),
    ("resume", N_("Answer end users again")),
    ("help", N_("What I can do")),
)

#: /help, one whole sentence (or a few) per message, shown one per line after the first
HELP: tuple[str, ...] = (
    N_(
        "I help you build an AI agent that answers from your own documents on Telegram "
        "and your website."
    ),
    N_("/newbot NAME creates an agent. The commands below apply to the agent you're working on."),
    N_("/persona TEXT sets how it speaks, /greeting TEXT its first message."),
    N_(
        "Send me a document (PDF, DOCX, HTML, Markdown or text) or a photo or scan of a "
        "page and it learns from it."
    ),
    N_(
        "/docs lists its documents, /deldoc ID deletes one, /ask QUESTION shows what it "
        "would answer from."
    ),
    N_("/token TOKEN puts it on your own Telegram bot (get a token from @BotFather)."),
    N_(
        "/widget gives you the code for a chat bubble on your website, and /origins add "
        "https://your.site lets it appear there; /theme sets its colour, title, side and "
        "picture."
    ),
    N_(
        "/pricing sets what content costs and the credit packs and plans on sale; "
        "/grant USER N gives a user credits."
    ),
    N_(
        "/features shows what it offers besides answers; /features create off stops it "
        "offering guided meditations, affirmations and rituals (for a support bot, say)."
    ),
    N_(
        "/languages shows the languages it speaks; /languages offer en es, /languages "
        "default es and /languages greeting es TEXT change them."
    ),
    N_(
        "/ambience rain (or pad, music, off) puts a soft bed under the voice of its "
        "recordings; /ambience level -22 sets how far under the voice it sits."
    ),
    N_("/stats shows its numbers and a chart of the last 30 days."),
    N_("/broadcast TEXT sends a message to all its users (you see who first, and confirm)."),
    N_(
        "/schedule 08:00 TEXT sends TEXT to all its users every day at 08:00 their time "
        "(/schedule mon,wed,fri 08:00 TEXT on some days); /schedules lists them, "
        "/unschedule N deletes one, /pauseschedule N and /resumeschedule N pause and "
        "resume one."
    ),
    N_("/pause and /resume stop and restart its answers to your users."),
    N_(
        "/takeover lists its latest conversations and /takeover N lets you answer user N "
        "yourself (your messages go to them, theirs come here) until /release."
    ),
    N_("/bots lists your agents; /use ID switches between them."),
)


def help_text(tr: Translator) -> str:
    """/help in ``tr``'s language: the first sentence, a blank line, then a line each."""
    first, *rest = (tr.gettext(sentence) for sentence in HELP)
    return first + "\n\n" + "\n".join(rest)


class ManagerBot:
    """Answers the creators who write to the manager bot."""

    def __init__(
        self,
        bots: BotDirectory,
        tools: CreatorCommands,
        attach_telegram: Attach,
        attach_whatsapp: Attach,
        whatsapp_report: Callable[[str, Translator], Awaitable[str]],
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
        """The replies to one message from a creator, in their Telegram app's language."""
        tr = translator(message.language)
        if "/" in message.sender_id:  # a group chat: configuration is private
            return _say(
                tr,
                tr.gettext("Let's talk in a private chat: open one with me and send /start."),
            )
        who = (message.channel.value, message.sender_id)
        command = message.command
        chat = Address(MANAGER_ID, message.channel.value, message.sender_id)
        if command is None and message.text and not message.attachments and self._handoff:
            # while the creator talks with one of their users, their words go to that user
            mine = await self._bots.owned_by(*who)
            relayed = await self._handoff.relay(chat, mine, message.text, tr=tr)
            if relayed is not None:
                return relayed
        if command in ("takeover", "release") and self._handoff is not None:
            mine = await self._bots.owned_by(*who)
            current = await self._bots.chosen(*who) if mine else None
            return await self._handoff.command(
                command, message.command_args, chat, message.sender_name, mine, current, tr=tr
            )
        if command in ("start", "help", None) and not message.attachments:
            if command is None and message.text:
                return _say(
                    tr,
                    tr.gettext(
                        "I set up agents through commands: /newbot NAME creates one, "
                        "/help lists the rest."
                    ),
                )
            return await self._welcome(who, tr)
        if command == "newbot":
            return await self._new_bot(who, message.command_args, message.sender_name, tr)
        if command == "bots":
            return await self._list(who, tr)
        if command == "use":
            return await self._use(who, message.command_args, tr)
        # a mistyped token is pointed out whatever else is wrong
        if command == "token" and not TOKEN_SHAPE.fullmatch(message.command_args.strip()):
            return _say(
                tr,
                tr.gettext(
                    "Send /token followed by the token @BotFather gave you, like "
                    "/token 123456789:AAE…"
                ),
            )
        bot = await self._bots.chosen(*who)
        if bot is None:
            return _say(
                tr,
                tr.gettext("You have no agent yet. Create one with /newbot followed by its name."),
            )
        if command is None:
            return await self._document(bot, message.attachments, chat, tr)
        if command in ("persona", "greeting"):
            return await self._describe(bot, command, message.command_args, tr)
        if command == "token":
            return await self._token(bot, message.command_args.strip(), tr)
        if command == "whatsapp":
            return await self._whatsapp(bot, message.command_args.strip(), tr)
        if command in self._tools.names:
            return await self._tools.run(command, message.command_args, bot, tr=tr)
        if command == "stats":
            return await self._stats.reply(bot, tr=tr)
        if command in SCHEDULE_COMMANDS and self._schedules is not None:
            return await self._schedules.command(command, message.command_args, bot, tr=tr)
        if command == "broadcast" and self._broadcasts is not None:
            return await self._broadcasts.command(message.command_args, bot, chat, tr=tr)
        if command == "widget":
            return _say(
                tr,
                tr.gettext(
                    "Paste this into your website's HTML to add %(bot)s's chat bubble:",
                    bot=bot.name,
                )
                + "\n\n"
                + embed_snippet(self._public, bot.id),
            )
        if command in ("pause", "resume"):
            return await self._pause(bot, command == "pause", tr)
        return _say(
            tr,
            tr.gettext(
                "/%(command)s isn't something I know. Send /help for the list.", command=command
            ),
        )

    async def _welcome(self, who: tuple[str, str], tr: Translator) -> list[OutboundMessage]:
        bot = await self._bots.chosen(*who)
        where = (
            tr.gettext("You're working on %(bot)s (%(id)s).", bot=bot.name, id=bot.id)
            if bot
            else tr.gettext("Start with /newbot followed by your agent's name.")
        )
        return _say(tr, f"{help_text(tr)}\n\n{where}")

    async def _new_bot(
        self, who: tuple[str, str], name: str, sender_name: str | None, tr: Translator
    ) -> list[OutboundMessage]:
        name = " ".join(name.split())
        if not name:
            return _say(
                tr,
                tr.gettext("What should your agent be called? Send /newbot followed by its name."),
            )
        if len(await self._bots.owned_by(*who)) >= MAX_BOTS:
            return _say(
                tr,
                tr.ngettext(
                    "You already have %(count)s agent, the most one creator can have.",
                    "You already have %(count)s agents, the most one creator can have.",
                    MAX_BOTS,
                ),
            )
        try:
            bot = await self._bots.create(name, creator=who, creator_name=sender_name or "")
        except ValueError as exc:
            return _say(tr, tr.gettext("I couldn't create that agent.") + " " + _refusal(exc, tr))
        log.info("a creator made bot %s through the manager bot", bot.id)
        return _say(
            tr,
            "\n".join(
                (
                    tr.gettext("%(bot)s is ready (id %(id)s). Next:", bot=bot.name, id=bot.id),
                    "• "
                    + tr.gettext("/persona: how it speaks, for example: warm, calm, encouraging"),
                    "• " + tr.gettext("/greeting: the first thing your users read"),
                    "• " + tr.gettext("Send me your documents so it can answer from them."),
                    "• " + tr.gettext("/token: put it on its own Telegram bot"),
                )
            ),
        )

    async def _list(self, who: tuple[str, str], tr: Translator) -> list[OutboundMessage]:
        mine = await self._bots.owned_by(*who)
        if not mine:
            return _say(
                tr,
                tr.gettext("You have no agents yet. Create one with /newbot followed by its name."),
            )
        current = await self._bots.chosen(*who)
        lines = [tr.gettext("Your agents:")]
        for bot in mine:
            working = current is not None and bot.id == current.id
            if working and bot.paused:
                line = tr.gettext(
                    "• %(id)s  %(bot)s ← working on (paused)", id=bot.id, bot=bot.name
                )
            elif working:
                line = tr.gettext("• %(id)s  %(bot)s ← working on", id=bot.id, bot=bot.name)
            elif bot.paused:
                line = tr.gettext("• %(id)s  %(bot)s (paused)", id=bot.id, bot=bot.name)
            else:
                line = f"• {bot.id}  {bot.name}"
            lines.append(line)
        lines.append(tr.gettext("Switch with /use ID."))
        return _say(tr, "\n".join(lines))

    async def _use(self, who: tuple[str, str], args: str, tr: Translator) -> list[OutboundMessage]:
        bot_id = args.strip().split()[0] if args.strip() else ""
        if not bot_id:
            return _say(tr, tr.gettext("Which agent? Send /use followed by an id from /bots."))
        try:
            bot = await self._bots.choose(*who, bot_id)
        except UnknownBot:
            return _say(
                tr,
                tr.gettext(
                    "You have no agent with the id %(id)s. /bots lists yours.", id=bot_id[:64]
                ),
            )
        return _say(tr, tr.gettext("Now working on %(bot)s (%(id)s).", bot=bot.name, id=bot.id))

    async def _describe(
        self, bot: BotProfile, field: str, text: str, tr: Translator
    ) -> list[OutboundMessage]:
        persona = field == "persona"
        current = bot.persona if persona else bot.greeting
        if not text.strip():
            if current and persona:
                shown = tr.gettext("%(bot)s's persona is “%(text)s”.", bot=bot.name, text=current)
            elif current:
                shown = tr.gettext("%(bot)s's greeting is “%(text)s”.", bot=bot.name, text=current)
            elif persona:
                shown = tr.gettext("%(bot)s's persona is not set yet.", bot=bot.name)
            else:
                shown = tr.gettext("%(bot)s's greeting is not set yet.", bot=bot.name)
            change = (
                tr.gettext("Change it with /persona followed by the new text.")
                if persona
                else tr.gettext("Change it with /greeting followed by the new text.")
            )
            return _say(tr, f"{shown}\n{change}")
        if len(text.strip()) > MAX_TEXT:
            return _say(
                tr,
                tr.ngettext(
                    "That's too long: a persona can be at most %(count)s character.",
                    "That's too long: a persona can be at most %(count)s characters.",
                    MAX_TEXT,
                )
                if persona
                else tr.ngettext(
                    "That's too long: a greeting can be at most %(count)s character.",
                    "That's too long: a greeting can be at most %(count)s characters.",
                    MAX_TEXT,
                ),
            )
        if persona:
            await self._bots.update(bot.id, persona=text)
            return _say(tr, tr.gettext("Saved %(bot)s's new persona.", bot=bot.name))
        await self._bots.update(bot.id, greeting=text)
        return _say(tr, tr.gettext("Saved %(bot)s's new greeting.", bot=bot.name))

    async def _pause(self, bot: BotProfile, paused: bool, tr: Translator) -> list[OutboundMessage]:
        if bot.paused == paused:
            return _say(
                tr,
                tr.gettext("%(bot)s is already paused.", bot=bot.name)
                if paused
                else tr.gettext("%(bot)s is already answering.", bot=bot.name),
            )
        await self._bots.update(bot.id, paused=paused)
        if paused:
            return _say(
                tr,
                tr.gettext(
                    "%(bot)s is paused: users are told it's taking a break. You can still "
                    "test it. /resume to switch it back on.",
                    bot=bot.name,
                ),
            )
        return _say(tr, tr.gettext("%(bot)s is answering users again.", bot=bot.name))

    async def _token(self, bot: BotProfile, token: str, tr: Translator) -> list[OutboundMessage]:
        if token == self._own_token:
            return _say(
                tr,
                tr.gettext(
                    "That's my own token. Create a new bot with @BotFather and send me its token."
                ),
            )
        try:
            username = await self._attach(bot.id, token)
        except ChannelRefused as exc:
            # Telegram's own words for the refusal ("Unauthorized"), kept as it said them
            return _say(
                tr,
                tr.gettext(
                    "Telegram didn't accept that token (%(reason)s). Copy it again from "
                    "@BotFather.",
                    reason=exc.reason,
                ),
            )
        except ChannelUnreachable:
            return _say(
                tr,
                tr.gettext("I couldn't reach Telegram just now. Please send the token again soon."),
            )
        return _say(
            tr,
            tr.gettext(
                "%(bot)s is now @%(username)s on Telegram: anyone can talk to it at "
                "https://t.me/%(username)s. I removed your message with the token from this "
                "chat.",
                bot=bot.name,
                username=username,
            ),
        )

    async def _whatsapp(
        self, bot: BotProfile, number: str, tr: Translator
    ) -> list[OutboundMessage]:
        if not number:
            report = await self._whatsapp_report(bot.id, tr)
            return _say(
                tr,
                report
                + "\n"
                + tr.gettext(
                    "To answer on a number, send /whatsapp followed by your Twilio WhatsApp "
                    "sender, like /whatsapp +14155238886."
                ),
            )
        if number.split()[0].lower() == "me":
            return await self._claim_whatsapp(bot, number[2:].strip(), tr)
        try:
            bound = await self._attach_whatsapp(bot.id, number)
        except ValueError as exc:
            return _say(tr, _refusal(exc, tr))
        except ChannelRefused as exc:
            return _say(
                tr,
                tr.gettext(
                    "WhatsApp isn't available on this server: %(reason)s.",
                    reason=tr.gettext(exc.reason),
                ),
            )
        webhook = f"{self._public}/webhooks/whatsapp/{bot.id}"
        return _say(
            tr,
            tr.gettext(
                "%(bot)s now answers WhatsApp messages to %(number)s. In Twilio, set that "
                "sender's incoming webhook to %(url)s",
                bot=bot.name,
                number=bound,
                url=webhook,
            ),
        )

    async def _claim_whatsapp(
        self, bot: BotProfile, mine: str, tr: Translator
    ) -> list[OutboundMessage]:
        if not mine:
            return _say(tr, tr.gettext("Send /whatsapp me followed by your own WhatsApp number."))
        try:
            code = await self._whatsapp_claim(bot.id, mine)
        except ValueError as exc:
            return _say(tr, _refusal(exc, tr))
        return _say(
            tr,
            tr.gettext(
                "To prove %(number)s is yours, send %(code)s from it to %(bot)s's WhatsApp "
                "number within 15 minutes. Then documents you send there are learned, as here.",
                number=mine,
                code=code,
                bot=bot.name,
            ),
        )

    async def _document(
        self,
        bot: BotProfile,
        attachments: tuple[Attachment, ...],
        chat: Address,
        tr: Translator,
    ) -> list[OutboundMessage]:
        documents = [a for a in attachments if a.kind is AttachmentKind.DOCUMENT]
        if not attachments:
            return _say(tr, tr.gettext("Send /help to see what I can do."))
        replies: list[OutboundMessage] = []
        for attachment in documents or attachments[:1]:
            replies += await self._tools.ingest(bot, attachment, chat, tr=tr)
        return replies


def _refusal(exc: ValueError, tr: Translator) -> str:
    """What a channel's refusal says, in ``tr``'s language: a :class:`Refusal` carries
    its message and placeholders; any other ``ValueError`` is shown as it is."""
    return exc.translated(tr) if isinstance(exc, Refusal) else str(exc)


def _say(tr: Translator, text: str) -> list[OutboundMessage]:
    return [OutboundMessage(text=text, language=None if tr is ENGLISH else tr.language)]
