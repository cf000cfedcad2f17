"""WhatsApp webhooks as Twilio sends them: inbound messages, status callbacks, signatures.

Each builder returns the form fields (all strings, in Twilio's order) of one
``application/x-www-form-urlencoded`` POST, for a test to sign with :func:`sign` (or
:func:`webhook_headers`) and send to the adapter's webhook. Field names and values follow
Twilio's messaging webhook reference and captured WhatsApp requests: ``MessageSid`` is
repeated as ``SmsSid`` and ``SmsMessageSid``, addresses carry the ``whatsapp:`` prefix,
``WaId`` is the user's number without ``+``, messages with media have ``MM`` sids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

# Test credentials: shaped like real ones (AC/SK/MG + 32 hex digits), valid nowhere.
ACCOUNT_SID = "AC3f0c3a5d2b9e4c7f8a1d6e0b2c4f9a7e"
AUTH_TOKEN = "9c1e7a2f4b6d8e0a3c5f7b9d1e2a4c6f"
API_KEY_SID = "SK5e2b8d1f4a7c0e3b6d9f2a5c8e1b4d7a"
API_KEY_SECRET = "wX3kP9qL2mN8vB5cT1yR7uJ4hG6fD0sA"
MESSAGING_SERVICE_SID = "MG7b1d4f8a2c5e9b3d6f0a4c7e1b5d8f2a"
BUSINESS_NUMBER = "+14155238886"  # the Twilio WhatsApp sandbox number
USER_NUMBER = "+14155550123"
PROFILE_NAME = "Ada"
API_VERSION = "2010-04-01"
WHATSAPP = "whatsapp:"
STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed", "undelivered")
# what Twilio puts in ErrorMessage for the WhatsApp failures a bot meets most
ERROR_MESSAGES = {
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
    63024: "Invalid message recipient",
    30008: "Unknown error",
}


def new_sid(prefix: str) -> str:
    """A fresh Twilio SID: two capital letters naming the resource, 32 hex digits."""
    return prefix + uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Chat:
    """Who talks to whom: the user's number and WhatsApp profile name, the business
    sender, the Twilio account, and the Messaging Service the sender belongs to."""

    user: str = USER_NUMBER
    profile_name: str = PROFILE_NAME
    business: str = BUSINESS_NUMBER
    account_sid: str = ACCOUNT_SID
    messaging_service_sid: str | None = MESSAGING_SERVICE_SID


CHAT = Chat()


def text_message(
    body: str = "hello",
    *,
    chat: Chat = CHAT,
    message_sid: str | None = None,
    replying_to: str | None = None,
) -> dict[str, str]:
    """A text message; ``replying_to`` makes it a reply (swipe-to-reply) to that message
    of the business."""
    return _inbound(chat, body, message_sid, "text", replied=replying_to)


def media_message(
    media_url: str,
    content_type: str,
    *,
    caption: str = "",
    chat: Chat = CHAT,
    message_sid: str | None = None,
) -> dict[str, str]:
    """One attachment (WhatsApp sends one per message) at ``media_url``, a Twilio media
    URL that needs the account's credentials; the caption, if any, is the ``Body``."""
    kind = content_type.partition("/")[0]
    message_type = kind if kind in {"image", "audio", "video"} else "document"
    media = {"MediaContentType0": content_type, "MediaUrl0": media_url}
    return _inbound(chat, caption, message_sid or new_sid("MM"), message_type, media=media)


def image_message(
    media_url: str, caption: str = "", *, chat: Chat = CHAT, message_sid: str | None = None
) -> dict[str, str]:
    """A photo (JPEG, as WhatsApp re-encodes them), with an optional caption."""
    return media_message(
        media_url, "image/jpeg", caption=caption, chat=chat, message_sid=message_sid
    )


def voice_note(
    media_url: str, *, chat: Chat = CHAT, message_sid: str | None = None
) -> dict[str, str]:
    """A recorded voice note: OGG/Opus, no body."""
    return media_message(media_url, "audio/ogg", chat=chat, message_sid=message_sid)


def button_reply(
    payload: str,
    text: str | None = None,
    *,
    chat: Chat = CHAT,
    replying_to: str | None = None,
    message_sid: str | None = None,
) -> dict[str, str]:
    """A tap on a quick-reply button of a template: its payload and label (the label is
    also the ``Body``), under the message the button was on."""
    label = payload if text is None else text
    extra = {"ButtonText": label, "ButtonPayload": payload}
    return _inbound(chat, label, message_sid, "button", extra=extra, replied=replying_to)


def location_message(
    latitude: float = 51.5007,
    longitude: float = -0.1246,
    *,
    address: str | None = None,
    label: str | None = None,
    chat: Chat = CHAT,
    message_sid: str | None = None,
) -> dict[str, str]:
    """A shared location; a named place also has ``Address`` and ``Label``."""
    extra = {"Latitude": repr(latitude), "Longitude": repr(longitude)}
    if address is not None:
        extra["Address"] = address
    if label is not None:
        extra["Label"] = label
    return _inbound(chat, "", message_sid, "location", extra=extra)


def status_callback(
    message_sid: str,
    status: str,
    *,
    chat: Chat = CHAT,
    error_code: int | None = None,
    error_message: str | None = None,
) -> dict[str, str]:
    """The StatusCallback request for a message the business sent to ``chat.user``:
    ``failed`` and ``undelivered`` carry ``ErrorCode`` (and its ``ErrorMessage``)."""
    if status not in STATUSES:
        raise ValueError(f"{status!r} is not one of {', '.join(STATUSES)}")
    fields = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": API_VERSION,
        "MessageStatus": status,
        "SmsSid": message_sid,
        "SmsStatus": status,
        "ChannelInstallSid": "XE" + hashlib.sha256(chat.business.encode()).hexdigest()[:32],
        "To": WHATSAPP + chat.user,
        "From": WHATSAPP + chat.business,
        "MessageSid": message_sid,
        "AccountSid": chat.account_sid,
        "ChannelToAddress": chat.user,
    }
    if chat.messaging_service_sid:
        fields["MessagingServiceSid"] = chat.messaging_service_sid
    if error_code is not None:
        fields["ErrorCode"] = str(error_code)
        message = error_message or ERROR_MESSAGES.get(error_code)
        if message:
            fields["ErrorMessage"] = message
    return fields


def sign(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the auth token, of the full
    URL Twilio requested (query string included) followed by every POST field's name and
    value, sorted by name."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    mac = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def webhook_headers(url: str, params: Mapping[str, str], auth_token: str) -> dict[str, str]:
    """The headers of Twilio's webhook request, signature included."""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "X-Home-Region": "us1",
        "X-Twilio-Signature": sign(url, params, auth_token),
    }


def _inbound(
    chat: Chat,
    body: str,
    message_sid: str | None,
    message_type: str,
    *,
    media: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    replied: str | None = None,
) -> dict[str, str]:
    sid = message_sid or new_sid("SM")
    fields = {
        "SmsMessageSid": sid,
        "NumMedia": "1" if media else "0",
        "ProfileName": chat.profile_name,
        "MessageType": message_type,
        "SmsSid": sid,
        "WaId": chat.user.removeprefix("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": WHATSAPP + chat.business,
    }
    if chat.messaging_service_sid:
        fields["MessagingServiceSid"] = chat.messaging_service_sid
    fields.update(
        {
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": chat.account_sid,
            "From": WHATSAPP + chat.user,
            "ApiVersion": API_VERSION,
        }
    )
    fields.update(media or {})
    fields.update(extra or {})
    if replied is not None:
        fields["OriginalRepliedMessageSender"] = WHATSAPP + chat.business
        fields["OriginalRepliedMessageSid"] = replied
    return fields
