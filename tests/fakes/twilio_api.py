"""A stand-in for Twilio's Programmable Messaging REST API (``api.twilio.com``).

It speaks the real wire format: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``
with form fields (``To``, ``From``, ``Body``, repeated ``MediaUrl``, ``ContentSid``,
``ContentVariables``, ``StatusCallback``, ``MessagingServiceSid``) answered with 201 and
a Message resource, ``GET .../Messages/{Sid}.json``, and stored media at
``.../Messages/{MessageSid}/Media/{MediaSid}`` (``.json`` for its metadata). Every
request needs HTTP Basic auth: the account SID and auth token, or an API key SID and
secret. Errors are Twilio's JSON (``code``, ``message``, ``more_info``, ``status``) with
its codes: 20003 for bad credentials, 20404, 20429, 21604/21603/21619/21617/... for
refused messages. Every request is recorded as a :class:`Call`; switches make it
throttle (429 + ``Retry-After``), fail (5xx) or lag.

Point the twilio SDK (``twilio>=9``) at it by replacing the base URL of the ``api``
domain, which serves every ``/2010-04-01`` resource::

    client = Client(account_sid, auth_token, environment={})
    client.api.base_url = "http://127.0.0.1:8123"

``Domain.absolute_url`` joins ``base_url`` and the resource path at each request, so
this reaches ``messages.create``, ``messages(sid).fetch()`` and their ``*_async``
forms (with ``http_client=AsyncTwilioHttpClient()``) alike. Leave ``edge`` and
``region`` unset, and pass ``environment={}`` so ``TWILIO_EDGE``/``TWILIO_REGION`` are
not read from the process: ``ClientBase.get_hostname`` rewrites the host with them
(``127.0.0.1`` becomes ``127.sydney.0.0.1``). Other domains (``content``,
``messaging``) keep their own ``base_url`` and are not served here.

Like Twilio with "Enforce HTTP Auth on Media URLs" on, a media download answers 307 to
a short-lived URL that needs no credentials (here ``/mms-cdn/...`` on the same server;
on Twilio ``mms.twiliocdn.com``). Deliberately lenient: MediaUrl files are not fetched,
messages stay ``queued`` (or ``accepted``) until a test calls :meth:`FakeTwilio.advance`,
which also posts the signed status callback, and the 24-hour WhatsApp window is not
enforced (fail a message with ``advance(sid, "failed", error_code=63016)``).

This module is the server and its test controls; the records, errors, credential and
field checks and the Message resource's shape are in :mod:`tests.fakes.twilio_wire`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.twilio_requests import (
    ACCOUNT_SID,
    API_VERSION,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    ERROR_MESSAGES,
    WHATSAPP,
    Chat,
    new_sid,
    status_callback,
    webhook_headers,
)
from tests.fakes.twilio_wire import (
    ROOT,
    Answer,
    Call,
    Fault,
    Form,
    StatusDelivery,
    StoredMedia,
    TwilioError,
    authenticate,
    checked_body,
    invalid,
    message_resource,
    not_found,
    read_form,
    rfc2822,
    unauthorized,
)

# the records and errors tests have always imported from here
__all__ = [
    "Call",
    "FakeTwilio",
    "Fault",
    "StatusDelivery",
    "StoredMedia",
    "TwilioError",
    "invalid",
    "unauthorized",
]


@dataclass(slots=True)
class FakeTwilio:
    """The server's state: ``accounts`` (SID -> auth token), ``api_keys`` (key SID ->
    account SID and secret), the messages created and the media stored. ``base_url``
    must be the server's own URL before :meth:`add_media`; ``latency`` seconds are added
    to every request; ``senders``, when not empty, are the only ``From`` addresses
    allowed; ``templates`` maps ContentSids to bodies with ``{{1}}`` placeholders."""

    base_url: str | None = None
    latency: float = 0.0
    media_auth: bool = True
    media_redirect: bool = True
    accounts: dict[str, str] = field(default_factory=lambda: {ACCOUNT_SID: AUTH_TOKEN})
    api_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    senders: set[str] = field(default_factory=set)
    templates: dict[str, str] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, StoredMedia] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    status_callbacks: list[StatusDelivery] = field(default_factory=list)
    _callback_urls: dict[str, str] = field(default_factory=dict)
    _faults: list[Fault] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        """An aiohttp application serving this fake."""
        app = web.Application()
        media = ROOT + "/Messages/{message}/Media/{media}"
        app.router.add_post(ROOT + "/Messages.json", self._route("create_message", self._create))
        app.router.add_get(ROOT + "/Messages/{sid}.json", self._route("fetch_message", self._fetch))
        app.router.add_get(media + ".json", self._route("fetch_media", self._media_resource))
        app.router.add_get(media, self._route("download_media", self._download))
        app.router.add_get("/mms-cdn/{token}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    # -- set-up by tests ------------------------------------------------------------

    def add_api_key(self, key_sid: str, secret: str, account_sid: str = ACCOUNT_SID) -> None:
        """Accept ``key_sid``/``secret`` as credentials of ``account_sid``."""
        self.api_keys[key_sid] = (account_sid, secret)

    def add_media(
        self,
        data: bytes,
        content_type: str,
        *,
        message_sid: str | None = None,
        account_sid: str = ACCOUNT_SID,
    ) -> StoredMedia:
        """Store a file a user sent (in a new ``MM`` message unless given one)."""
        if self.base_url is None:
            raise RuntimeError("set FakeTwilio.base_url to the server's URL first")
        message_sid = message_sid or new_sid("MM")
        sid = new_sid("ME")
        path = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media/{sid}"
        url = self.base_url.rstrip("/") + path
        stored = StoredMedia(
            sid, message_sid, account_sid, content_type, data, url, secrets.token_hex(20)
        )
        self.media[sid] = stored
        return stored

    def throttle(
        self,
        times: int = 1,
        retry_after: int = 1,
        *,
        operation: str | None = "create_message",
        to: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with 429, code 20429."""
        error = TwilioError(429, 20429, "Too Many Requests", retry_after=retry_after)
        self._faults.append(Fault(operation, to, times, error))

    def fail(
        self,
        times: int = 1,
        status: int = 500,
        *,
        operation: str | None = "create_message",
        to: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with a server error."""
        code = 20503 if status == 503 else 20500
        error = TwilioError(status, code, HTTPStatus(status).phrase)
        self._faults.append(Fault(operation, to, times, error))

    async def advance(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> int | None:
        """Move message ``sid`` to ``status`` and, if it was sent with a StatusCallback,
        post the signed callback there; returns the receiver's HTTP status."""
        message = self.messages[sid]
        now = rfc2822()
        message.update(status=status, date_updated=now)
        if message["from"] is None:  # a Messaging Service picked its sender
            message["from"] = WHATSAPP + BUSINESS_NUMBER
        if status in {"sent", "delivered", "read"} and message["date_sent"] is None:
            message["date_sent"] = now
        if error_code is not None:
            message["error_code"] = error_code
            message["error_message"] = error_message or ERROR_MESSAGES.get(error_code)
        url = self._callback_urls.get(sid)
        if url is None:
            return None
        chat = Chat(
            user=message["to"].removeprefix(WHATSAPP),
            business=message["from"].removeprefix(WHATSAPP),
            account_sid=message["account_sid"],
            messaging_service_sid=message["messaging_service_sid"],
        )
        params = status_callback(
            sid, status, chat=chat, error_code=error_code, error_message=error_message
        )
        headers = webhook_headers(url, params, self.accounts[message["account_sid"]])
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=params, headers=headers) as response,
        ):
            answered = response.status
        self.status_callbacks.append(StatusDelivery(url, params, answered))
        self._notify()
        return answered

    # -- inspection -----------------------------------------------------------------

    def calls_for(
        self, operation: str = "create_message", account_sid: str | None = None
    ) -> list[Call]:
        """The requests of ``operation`` (to ``account_sid``'s resources), in order."""
        return [
            c
            for c in self.calls
            if c.operation == operation and account_sid in (None, c.account_sid)
        ]

    async def wait_for(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - it is named in the failure message
        operation: str = "create_message",
        account_sid: str | None = None,
    ) -> list[Call]:
        """Wait until ``count`` requests of ``operation`` have been answered."""
        try:
            async with asyncio.timeout(timeout):
                while len(found := self.calls_for(operation, account_sid)) < count:
                    await self._changed.wait()
        except TimeoutError:
            got = len(self.calls_for(operation, account_sid))
            raise TimeoutError(f"{got} of {count} {operation} calls after {timeout}s") from None
        return found

    # -- HTTP -----------------------------------------------------------------------

    def _route(
        self, operation: str, handler: Callable[[web.Request, str, Form], Awaitable[Answer]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap ``handler`` in what every request goes through: latency, Basic auth,
        injected faults, and the record."""

        async def serve(request: web.Request) -> web.StreamResponse:
            arrived = time.monotonic()
            if self.latency:
                await asyncio.sleep(self.latency)
            account = request.match_info["account"]
            form = await read_form(request)
            answer: Answer | TwilioError
            try:
                if operation != "download_media" or self.media_auth:
                    header = request.headers.get("Authorization", "")
                    authenticate(header, account, self.accounts, self.api_keys)
                to = next((v for k, v in form if k == "To"), None)
                for fault in self._faults:
                    if fault.take(operation, to):
                        raise fault.error
                answer = await handler(request, account, form)
            except TwilioError as error:
                answer = error
            if isinstance(answer, TwilioError):
                status, body, response = answer.status, answer.body(), answer.response()
            elif isinstance(answer, web.Response):
                status, body, response = answer.status, {}, answer
            else:
                status, body = answer
                response = web.json_response(body, status=status)
            self.calls.append(Call(operation, account, request.path, form, arrived, status, body))
            self._notify()
            return response

        return serve

    async def _create(self, request: web.Request, account: str, form: Form) -> Answer:
        params = dict(reversed(form))  # the first value of each field
        media_urls = [v for k, v in form if k == "MediaUrl"]
        body = checked_body(params, media_urls, senders=self.senders, templates=self.templates)
        sid = new_sid("MM" if media_urls else "SM")
        message = message_resource(account, sid, params, body, len(media_urls))
        self.messages[sid] = message
        if params.get("StatusCallback"):
            self._callback_urls[sid] = params["StatusCallback"]
        return 201, dict(message)

    async def _fetch(self, request: web.Request, account: str, form: Form) -> Answer:
        message = self.messages.get(request.match_info["sid"])
        if message is None or message["account_sid"] != account:
            raise not_found(request.path)
        return 200, dict(message)

    async def _media_resource(self, request: web.Request, account: str, form: Form) -> Answer:
        stored = self._stored(request)
        return 200, {
            "account_sid": stored.account_sid,
            "content_type": stored.content_type,
            "date_created": rfc2822(),
            "date_updated": rfc2822(),
            "parent_sid": stored.message_sid,
            "sid": stored.sid,
            "uri": f"/{API_VERSION}/Accounts/{account}/Messages/{stored.message_sid}"
            f"/Media/{stored.sid}.json",
        }

    async def _download(self, request: web.Request, account: str, form: Form) -> Answer:
        stored = self._stored(request)
        if self.media_redirect:
            return web.Response(status=307, headers={"Location": f"/mms-cdn/{stored.cdn_token}"})
        self.downloads.append(stored.sid)
        return web.Response(body=stored.data, content_type=stored.content_type)

    async def _cdn(self, request: web.Request) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        token = request.match_info["token"]
        stored = next((m for m in self.media.values() if m.cdn_token == token), None)
        if stored is None:
            return web.Response(status=403, text="AccessDenied", content_type="application/xml")
        self.downloads.append(stored.sid)
        return web.Response(body=stored.data, content_type=stored.content_type)

    def _stored(self, request: web.Request) -> StoredMedia:
        match = request.match_info
        stored = self.media.get(match["media"])
        if stored is None or (stored.account_sid, stored.message_sid) != (
            match["account"],
            match["message"],
        ):
            raise not_found(request.path)
        return stored

    async def _not_found(self, request: web.Request) -> web.Response:
        return not_found(request.path).response()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
