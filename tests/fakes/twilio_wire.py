"""The Messages API wire format for the fake Twilio server: its records, errors and checks.

Plain data the fake keeps (each answered request as a :class:`Call`, a user's file as
:class:`StoredMedia`, a posted status callback as :class:`StatusDelivery`, an injected
:class:`Fault`), the error answer (:class:`TwilioError`, with :func:`invalid`,
:func:`unauthorized` and :func:`not_found` for Twilio's usual codes), and pure functions
that read a request's form, check HTTP Basic credentials and a message's fields the way
Twilio does, and shape the Message resource it answers. Nothing here holds server state;
:mod:`tests.fakes.twilio_api` does.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.twilio_requests import API_VERSION, WHATSAPP

ROOT = f"/{API_VERSION}/Accounts/{{account}}"
MAX_BODY = 1600
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_CONTENT_SID = re.compile(r"HX[0-9a-f]{32}")

Form = tuple[tuple[str, str], ...]


class TwilioError(Exception):
    """An error answer: HTTP ``status`` and Twilio's error ``code`` and ``message``."""

    def __init__(
        self, status: int, code: int, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON Twilio answers (the SDK turns it into ``TwilioRestException``)."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }

    def response(self) -> web.Response:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return web.json_response(self.body(), status=self.status, headers=headers)


def invalid(code: int, message: str) -> TwilioError:
    """A 400 for a refused request."""
    return TwilioError(400, code, message)


def unauthorized() -> TwilioError:
    """The 401 for missing or wrong credentials, or another account's resources."""
    return TwilioError(401, 20003, "Authenticate")


def not_found(path: str) -> TwilioError:
    """The 404 for an unknown resource (or one of another account)."""
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


Answer = tuple[int, dict[str, Any]] | web.Response


@dataclass(frozen=True, slots=True)
class Call:
    """One request: which ``operation`` (``create_message``, ``fetch_message``,
    ``fetch_media``, ``download_media``), the account in its path, its form fields as
    sent, when it arrived (``time.monotonic()``) and what was answered."""

    operation: str
    account_sid: str
    path: str
    form: Form
    at: float
    status: int
    response: dict[str, Any]

    @property
    def params(self) -> dict[str, str]:
        """The form fields, the first value of a repeated one."""
        found: dict[str, str] = {}
        for name, value in self.form:
            found.setdefault(name, value)
        return found

    def values(self, name: str) -> list[str]:
        """Every value of a repeated field (``MediaUrl``), in order."""
        return [value for key, value in self.form if key == name]

    @property
    def error_code(self) -> int | None:
        """Twilio's error code, if the answer was an error."""
        return self.response.get("code") if self.status >= 400 else None


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """A file on Twilio, as if a user had sent it: ``url`` is what an inbound webhook
    carries in ``MediaUrl0``."""

    sid: str
    message_sid: str
    account_sid: str
    content_type: str
    data: bytes
    url: str
    cdn_token: str


@dataclass(frozen=True, slots=True)
class StatusDelivery:
    """A status callback the fake posted, and the HTTP status the receiver answered."""

    url: str
    params: dict[str, str]
    status: int


@dataclass(slots=True)
class Fault:
    """Answer the next ``remaining`` requests of ``operation`` (any if ``None``) to
    ``to`` (any if ``None``) with ``error``."""

    operation: str | None
    to: str | None
    remaining: int
    error: TwilioError

    def take(self, operation: str, to: str | None) -> bool:
        if self.remaining <= 0 or self.operation not in (None, operation):
            return False
        if self.to is not None and self.to != to:
            return False
        self.remaining -= 1
        return True


async def read_form(request: web.Request) -> Form:
    """A POST's form fields as sent, in order (repeats kept); nothing for a GET."""
    if request.method != "POST":
        return ()
    return tuple((k, str(v)) for k, v in (await request.post()).items())


def authenticate(
    header: str,
    account: str,
    accounts: dict[str, str],
    api_keys: dict[str, tuple[str, str]],
) -> None:
    """Check an ``Authorization: Basic`` header against ``account``: its SID and auth
    token, or one of its API keys (key SID -> account SID and secret)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized()
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized() from None
    owner, secret = api_keys.get(user, (user, accounts.get(user)))
    if secret is None or owner != account or not secrets.compare_digest(secret, password):
        raise unauthorized()


def checked_body(
    params: dict[str, str],
    media_urls: list[str],
    *,
    senders: set[str],
    templates: dict[str, str],
) -> str:
    """The message's text, or the error Twilio answers for these fields. ``senders``,
    when not empty, are the only ``From`` addresses allowed; ``templates`` maps
    ContentSids to bodies with ``{{1}}`` placeholders."""
    to, from_ = params.get("To", ""), params.get("From", "")
    body, content_sid = params.get("Body", ""), params.get("ContentSid", "")
    if not to:
        raise invalid(21604, "A 'To' phone number is required.")
    if not from_ and not params.get("MessagingServiceSid"):
        raise invalid(21603, "A 'From' phone number is required.")
    if not body and not media_urls and not content_sid:
        raise invalid(21619, "A text message body or media urls must be specified.")
    if len(body) > MAX_BODY:
        raise invalid(21617, "The concatenated message body exceeds the 1600 character limit.")
    if from_ and from_.startswith(WHATSAPP) != to.startswith(WHATSAPP):
        raise invalid(21910, "Invalid From and To pair. From and To should be of the same channel")
    if not _E164.fullmatch(to.removeprefix(WHATSAPP)):
        raise invalid(21211, f"Invalid 'To' Phone Number: {to}")
    if from_ and senders and from_ not in senders:
        raise invalid(63007, "Twilio could not find a Channel with the specified From address")
    if any(not url.startswith(("https://", "http://")) for url in media_urls):
        raise invalid(21620, "Invalid media URL(s).")
    callback = params.get("StatusCallback", "")
    if callback and not callback.startswith(("https://", "http://")):
        raise invalid(21609, f"Invalid StatusCallback url: {callback}")
    if not content_sid:
        return body
    if not _CONTENT_SID.fullmatch(content_sid) or (templates and content_sid not in templates):
        raise invalid(21655, "The ContentSid is Invalid.")
    try:
        variables = json.loads(params.get("ContentVariables") or "{}")
    except ValueError:
        variables = None
    if not isinstance(variables, dict):
        raise invalid(21656, "The ContentVariables Parameter is invalid.")
    template = templates.get(content_sid, body)
    for key, value in variables.items():
        template = template.replace("{{" + str(key) + "}}", str(value))
    return template


def message_resource(
    account: str, sid: str, params: dict[str, str], body: str, num_media: int
) -> dict[str, Any]:
    """The Message resource Twilio answers for a message just created: ``queued`` when
    it names its sender, ``accepted`` when a Messaging Service will pick one."""
    to, from_ = params.get("To", ""), params.get("From") or None
    uri = f"/{API_VERSION}/Accounts/{account}/Messages/{sid}"
    now = rfc2822()
    return {
        "account_sid": account,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": params.get("MessagingServiceSid") or None,
        "num_media": str(num_media),
        "num_segments": "1",  # WhatsApp never splits a message, unlike SMS
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued" if from_ else "accepted",
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": to,
        "uri": f"{uri}.json",
    }


def rfc2822() -> str:
    """Now, as Twilio writes dates: ``Thu, 24 Aug 2023 05:01:45 +0000``."""
    return email.utils.format_datetime(datetime.now(UTC).replace(microsecond=0))
