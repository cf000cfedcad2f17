"""WhatsApp numbers on this server: Twilio's signed webhooks in, the Messages API out.

``POST /webhooks/whatsapp/{bot_id}`` checks ``X-Twilio-Signature`` with the twilio SDK's
``RequestValidator`` against the public URL (``PUBLIC_BASE_URL`` + path, so it holds
behind a proxy) and every form field, stores the message in the inbox under its
``MessageSid`` (a redelivery is a no-op) and answers with empty TwiML at once. Replies go
out through the Messages API (the SDK's synchronous calls run off the event loop), each
recorded with its delivery status, which ``…/status`` callbacks keep up to date.

Free-form messages are allowed only within 24 hours of the user's last message. Content
pushed later (finished meditations) outside that window goes out as the bot's approved
template (``whatsapp_template`` in its settings: a ContentSid) or is held back, with
the reason recorded for the creator. The rows behind all this (contacts, sent messages)
and the creator's number claims are kept by :mod:`channels.whatsapp_records`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bots.registry import BotDirectory
from channels.base import wording
from channels.whatsapp import MEDIA_SCHEME, PREFIX, form_dict, render, sender_of, to_inbound
from channels.whatsapp_records import WhatsAppRecords
from core.conversation.engine import ConversationEngine
from core.errors import ChannelRefused, NotDelivered, Refusal
from core.i18n.translator import ENGLISH, N_, Translator
from core.messages import Channel, Media
from core.messages import OutboundMessage as Reply
from core.outbox import Address, Outbox
from core.runtime.inbox import Delivery, Inbox
from core.storage.database import Database
from core.storage.media import MediaStore
from core.storage.models import ChannelAccount

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger("chorus.whatsapp")

CHANNEL = Channel.WHATSAPP.value
SIGNATURE_HEADER = "X-Twilio-Signature"
WINDOW = timedelta(hours=24)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
ATTEMPTS = 3
NUMBER_CACHE_SECONDS = 5.0
STATUSES = frozenset({"queued", "sending", "sent", "delivered", "read", "failed", "undelivered"})
HELD = N_("outside the 24-hour window and no approved template is configured")
_NUMBER = re.compile(r"\+[1-9]\d{6,14}")


def normalise_number(text: str) -> str | None:
    """An E.164 number (``+14155238886``) from what a person typed, or None."""
    number = re.sub(r"[\s().-]", "", text.removeprefix(PREFIX))
    if number.startswith("00"):
        number = "+" + number[2:]
    return number if _NUMBER.fullmatch(number) else None


def within_window(last_inbound: datetime | None, now: datetime) -> bool:
    """Whether a free-form message may be sent now: the user wrote in the last 24 hours."""
    return last_inbound is not None and now - last_inbound < WINDOW


class WhatsAppChannel:
    """The bots' WhatsApp numbers, through one Twilio account.

    The twilio SDK (and the HTTP stack under it) is imported when a webhook or a message
    first needs it, not when the channel is made: most processes never do.
    """

    def __init__(
        self,
        db: Database,
        bots: BotDirectory,
        engine: ConversationEngine,
        inbox: Inbox,
        outbox: Outbox,
        media: MediaStore,
        *,
        account_sid: str | None,
        auth_token: str | None,
        api_base: str | None,
        public_base_url: str,
    ) -> None:
        self._db = db
        self._records = WhatsAppRecords(db, bots)
        self._engine = engine
        self._inbox = inbox
        self._media = media
        self._sid = account_sid
        self._token = auth_token
        self._api_base = api_base
        self._public = public_base_url.rstrip("/")
        self._client: Client | None = None
        self._numbers: dict[str, tuple[float, str | None]] = {}
        inbox.register(
            CHANNEL,
            self.process,
            lambda d: f"{d.bot_id}/{sender_of(d.payload)}",
            lambda d: Address(d.bot_id, CHANNEL, user) if (user := sender_of(d.payload)) else None,
        )
        outbox.register(CHANNEL, self.deliver)

    @property
    def configured(self) -> bool:
        return bool(self._sid and self._token)

    async def attach(self, bot_id: str, number: str) -> str:
        """Answer WhatsApp messages to ``number`` (a Twilio WhatsApp sender) as ``bot_id``."""
        normal = normalise_number(number)
        if normal is None:
            raise Refusal(
                N_("%(number)s is not a phone number like +14155238886."), number=repr(number[:40])
            )
        if not self.configured:
            raise ChannelRefused(
                CHANNEL, N_("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
            )
        async with self._db.transaction() as session:
            taken = await session.scalar(
                select(ChannelAccount).where(
                    ChannelAccount.channel == CHANNEL, ChannelAccount.external_id == normal
                )
            )
            if taken is not None and taken.bot_id != bot_id:
                await session.delete(taken)  # the number moves to this bot
            account = await session.scalar(
                select(ChannelAccount).where(
                    ChannelAccount.bot_id == bot_id, ChannelAccount.channel == CHANNEL
                )
            )
            if account is None:
                account = ChannelAccount(bot_id=bot_id, channel=CHANNEL, secret="")
                session.add(account)
            account.external_id = normal
        self._numbers.clear()
        return normal

    # -- webhooks -------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /webhooks/whatsapp/{bot_id}``: check, store, answer empty TwiML."""
        bot_id = request.match_info["bot_id"]
        form = await self._signed_form(request)
        if await self._number(bot_id) is None:
            raise web.HTTPNotFound(text="no WhatsApp number here")
        if not form.get("MessageSid") or not sender_of(form):
            raise web.HTTPBadRequest(text="not a WhatsApp message")
        await self._inbox.accept(bot_id, CHANNEL, form["MessageSid"], form)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def status(self, request: web.Request) -> web.Response:
        """``POST /webhooks/whatsapp/{bot_id}/status``: a sent message's delivery status."""
        bot_id = request.match_info["bot_id"]
        form = await self._signed_form(request)
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if not sid or status not in STATUSES:
            raise web.HTTPBadRequest(text="not a message status callback")
        error = None
        if form.get("ErrorCode"):
            error = f"{form['ErrorCode']}: {form.get('ErrorMessage', '')}".strip(": ")
        await self._records.delivery_status(bot_id, sid, status, error)
        if status in ("failed", "undelivered"):
            log.warning("a WhatsApp message of bot %s was %s (%s)", bot_id, status, error)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def _signed_form(self, request: web.Request) -> dict[str, str]:
        if not self.configured:
            raise web.HTTPNotFound(text="WhatsApp is not set up on this server")
        form = form_dict(await request.post())
        url = self._public + request.path_qs
        signature = request.headers.get(SIGNATURE_HEADER, "")
        assert self._token is not None
        from twilio.request_validator import RequestValidator

        if not signature or not RequestValidator(self._token).validate(url, form, signature):
            log.info("refused a WhatsApp webhook with a bad signature (%s)", request.path)
            raise web.HTTPForbidden(text="bad or missing X-Twilio-Signature")
        return form

    # -- processing -----------------------------------------------------------------

    async def process(self, delivery: Delivery) -> None:
        """Answer one stored WhatsApp message through the engine."""
        number = await self._number(delivery.bot_id)
        if number is None:
            log.warning("message for bot %s, which has no WhatsApp number now", delivery.bot_id)
            return
        form = delivery.payload
        user = sender_of(form)
        contact = await self._records.touch(delivery.bot_id, user)
        confirmed = await self._records.claimed(delivery.bot_id, user, form.get("Body", ""))
        if confirmed is not None:
            await self._send(delivery.bot_id, number, user, [Reply(text=confirmed)])
            return
        message = to_inbound(delivery.bot_id, form, contact.options)
        replies = await self._engine.handle(message)
        await self._send(delivery.bot_id, number, user, replies)

    async def deliver(self, address: Address, messages: Sequence[Reply]) -> None:
        """The outbox's sender: content finished later, within the 24-hour window, as a
        template outside it, or held back."""
        number = await self._number(address.bot_id)
        if number is None:
            raise NotDelivered(CHANNEL, "the bot has no WhatsApp number any more")
        outreach = await self._records.outreach(address.bot_id, address.sender_id)
        summary = " ".join(m.text for m in messages if m.text)[:200]
        if within_window(outreach.last_inbound, datetime.now(UTC)):
            error = await self._send(address.bot_id, number, address.sender_id, messages)
        elif isinstance(outreach.template, dict) and outreach.template.get("content_sid"):
            ready = wording(messages[0]).gettext("Your content is ready.") if messages else ""
            variables = {"1": summary or ready}
            error = await self._create(
                address.bot_id,
                address.sender_id,
                summary,
                from_=f"{PREFIX}{number}",
                content_sid=outreach.template["content_sid"],
                content_variables=json.dumps(variables),
            )
        else:
            log.warning("held back a WhatsApp message of bot %s: %s", address.bot_id, HELD)
            await self._records.sent(address.bot_id, address.sender_id, "held", summary, error=HELD)
            error = HELD
        if error is not None:
            raise NotDelivered(CHANNEL, error)

    async def _send(
        self, bot_id: str, number: str, user: str, replies: Sequence[Reply]
    ) -> str | None:
        """Send replies as WhatsApp messages; the first error, if any."""
        outgoing, options = render(replies, self._media_url)
        # a contact erased while its message was handled (/forget) gets the replies, and
        # no record of them is kept
        known = await self._records.offer(bot_id, user, options)
        errors = []
        for message in outgoing:
            extra: dict[str, Any] = {"media_url": [message.media_url]} if message.media_url else {}
            error = await self._create(
                bot_id,
                user,
                message.body,
                record=known,
                from_=f"{PREFIX}{number}",
                body=message.body,
                **extra,
            )
            errors.append(error)
        return next((e for e in errors if e is not None), None)

    async def _create(
        self, bot_id: str, user: str, summary: str, *, record: bool = True, **fields: Any
    ) -> str | None:
        """Send one message (retrying 429 and 5xx) and record it (unless not ``record``);
        Twilio's error, if it refused."""
        from twilio.base.exceptions import TwilioRestException

        fields["status_callback"] = f"{self._public}/webhooks/whatsapp/{bot_id}/status"
        sid, status, error = None, "failed", None
        for attempt in range(ATTEMPTS):
            try:
                created = await asyncio.to_thread(
                    self._twilio().messages.create, to=f"{PREFIX}{user}", **fields
                )
            except TwilioRestException as exc:
                error = f"{exc.code or exc.status}: {exc.msg}"
                if exc.status == 429 or exc.status >= 500:
                    await asyncio.sleep(0.5 * 2**attempt)
                    continue
                break
            sid, status, error = created.sid, created.status or "queued", None
            break
        if error:
            log.warning("a WhatsApp message of bot %s was not sent: %s", bot_id, error)
        if record:
            await self._records.sent(
                bot_id, user, status, summary[:2000], provider_id=sid, error=error
            )
        return error

    async def read_media(self, reference: str, max_bytes: int) -> bytes:
        """The bytes of a ``twilio-media:URL`` attachment, fetched with the account's
        credentials, from Twilio's own host only."""
        url = reference.removeprefix(f"{MEDIA_SCHEME}:")
        allowed = {"api.twilio.com", urlsplit(self._api_base or "").netloc}
        if urlsplit(url).netloc not in allowed or not self.configured:
            raise OSError("not a media file of this Twilio account")
        credentials = base64.b64encode(f"{self._sid}:{self._token}".encode()).decode()
        timeout = aiohttp.ClientTimeout(total=60)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers={"Authorization": f"Basic {credentials}"}) as response,
        ):
            if response.status != 200:
                raise OSError(f"Twilio answered {response.status} for the media")
            data = await response.content.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise OSError(f"the file is larger than {max_bytes:,} bytes")
        return data

    async def claim(self, bot_id: str, creator_number: str) -> str:
        """Start proving that ``creator_number`` is the creator's own WhatsApp: returns a
        code they send from it to the bot's number within 15 minutes."""
        normal = normalise_number(creator_number)
        if normal is None:
            raise Refusal(
                N_("%(number)s is not a phone number like +14155550123."),
                number=repr(creator_number[:40]),
            )
        if await self._number(bot_id) is None:
            raise Refusal(N_("You need to connect a WhatsApp number first, with /whatsapp NUMBER."))
        return await self._records.claim(bot_id, normal)

    async def report(self, bot_id: str, tr: Translator = ENGLISH) -> str:
        """For the creator: the bot's number, how its messages fared this week, and the
        latest problems (held back or failed) with their reasons, in ``tr``'s language."""
        number = await self._number(bot_id)
        if number is None:
            return tr.gettext("No WhatsApp number yet.")
        return await self._records.report(bot_id, number, tr)

    # -- state ----------------------------------------------------------------------

    async def _number(self, bot_id: str) -> str | None:
        """The bot's WhatsApp number, cached briefly: every message needs it twice."""
        cached = self._numbers.get(bot_id)
        if cached is not None and time.monotonic() - cached[0] < NUMBER_CACHE_SECONDS:
            return cached[1]
        async with self._db.read() as session:
            number = await session.scalar(
                select(ChannelAccount.external_id).where(
                    ChannelAccount.bot_id == bot_id, ChannelAccount.channel == CHANNEL
                )
            )
        self._numbers[bot_id] = (time.monotonic(), number)
        return number

    def _media_url(self, media: Media) -> str:
        return self._media.link(media.reference, base_url=self._public)

    def _twilio(self) -> Client:
        if self._client is None:
            from twilio.rest import Client

            # environment={}: TWILIO_EDGE/TWILIO_REGION of the process would rewrite the host
            self._client = Client(self._sid, self._token, environment={})
            if self._api_base:
                self._client.api.base_url = self._api_base.rstrip("/")
        return self._client
