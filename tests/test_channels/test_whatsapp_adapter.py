"""Twilio's WhatsApp form fields to messages, and replies to WhatsApp messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from channels.whatsapp import formatted, render, sender_of, to_inbound
from channels.whatsapp_webhook import normalise_number, within_window
from core.messages import AttachmentKind, Button, Media, OutboundKind, OutboundMessage, Source

FORM = {
    "MessageSid": "SM" + "a" * 32,
    "From": "whatsapp:+14155550123",
    "To": "whatsapp:+14155238886",
    "WaId": "14155550123",
    "ProfileName": "Ada",
    "NumMedia": "0",
}
OPTIONS = [
    {"label": "Sleeping better", "payload": "goal:sleep"},
    {"label": "Less stress", "payload": "goal:stress"},
]


def test_a_text_message() -> None:
    message = to_inbound("demo", {**FORM, "Body": "¿Cómo respiro? 🌿"})
    assert message.sender_id == "+14155550123"
    assert message.sender_name == "Ada"
    assert message.text == "¿Cómo respiro? 🌿"
    assert message.platform_message_id == FORM["MessageSid"]


def test_commands_buttons_and_numbered_choices() -> None:
    assert to_inbound("demo", {**FORM, "Body": "/voice on"}).command == "voice"
    quick = to_inbound("demo", {**FORM, "Body": "Yes", "ButtonPayload": "flow:confirm"})
    assert quick.button_payload == "flow:confirm"
    assert to_inbound("demo", {**FORM, "Body": "2"}, OPTIONS).button_payload == "goal:stress"
    by_label = to_inbound("demo", {**FORM, "Body": "sleeping better!"}, OPTIONS)
    assert by_label.button_payload == "goal:sleep"
    assert to_inbound("demo", {**FORM, "Body": "3"}, OPTIONS).text == "3"  # not an option
    assert to_inbound("demo", {**FORM, "Body": "2"}).text == "2"  # nothing was offered


def test_media_and_location() -> None:
    voice = {
        **FORM,
        "NumMedia": "2",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "MediaContentType0": "audio/ogg",
        "MediaUrl1": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
        "MediaContentType1": "image/jpeg",
    }
    kinds = [a.kind for a in to_inbound("demo", voice).attachments]
    assert kinds == [AttachmentKind.VOICE, AttachmentKind.IMAGE]
    assert to_inbound("demo", voice).attachments[0].reference.startswith("twilio-media:https://")
    place = {**FORM, "Latitude": "52.52", "Longitude": "13.40", "Label": "Tea house"}
    (location,) = to_inbound("demo", place).attachments
    assert location.kind is AttachmentKind.LOCATION
    assert location.reference == "geo:52.52,13.40"
    assert to_inbound("demo", {**FORM, "NumMedia": "lots"}).attachments == ()


def test_the_sender_falls_back_to_the_wa_id() -> None:
    assert sender_of({"WaId": "4915112345678"}) == "+4915112345678"


def test_long_replies_are_split_in_order_within_1600_characters() -> None:
    sentences = [f"Sentence number {n} says something calm and useful." for n in range(120)]
    text = " ".join(sentences)
    out, options = render([OutboundMessage(text=text)], lambda m: m.reference)
    assert len(out) > 1
    assert all(len(m.body) <= 1600 for m in out)
    assert all(m.body.endswith(".") for m in out)  # cut at sentence ends
    assert " ".join(m.body for m in out) == text
    assert options == []


def test_buttons_become_numbered_options_and_sources_a_short_list() -> None:
    reply = OutboundMessage(
        text="What would you like it to help with?",
        buttons=(Button("Sleeping better", "goal:sleep"), Button("Less stress", "goal:stress")),
        sources=(Source(number=1, title="Breathing", page=2),),
    )
    (message,), options = render([reply], lambda m: m.reference)
    assert "1. Sleeping better\n2. Less stress" in message.body
    assert "*Sources*\n[1] Breathing, p. 2" in message.body
    assert options == OPTIONS


def test_a_link_button_is_written_out_and_not_numbered() -> None:
    reply = OutboundMessage(
        text="Here's a secure Stripe page.",
        buttons=(Button("Pay with Stripe", url="https://pay.example/cs_1"), Button("Back", "b")),
    )
    (message,), options = render([reply], lambda m: m.reference)
    assert "Pay with Stripe: https://pay.example/cs_1" in message.body
    assert "1. Back" in message.body
    assert options == [{"label": "Back", "payload": "b"}]


def test_audio_is_a_media_message_and_progress_is_not_sent() -> None:
    audio = Media(reference="abc.ogg", mime_type="audio/ogg", filename="meditation.ogg")
    replies = [
        OutboundMessage(text="Recording…", kind=OutboundKind.PROGRESS),
        OutboundMessage(text="Your meditation", kind=OutboundKind.AUDIO, audio=audio),
    ]
    (message,), _ = render(replies, lambda m: f"https://chorus.example/media/{m.reference}")
    assert message.media_url == "https://chorus.example/media/abc.ogg"
    assert message.body == "Your meditation"


def test_an_image_is_a_media_message_captioned_with_its_text() -> None:
    chart = Media(reference="media:c.png", mime_type="image/png", filename="chart.png")
    replies = [OutboundMessage(text="Messages per day", kind=OutboundKind.IMAGE, image=chart)]
    (message,), _ = render(replies, lambda m: f"https://chorus.example/media/{m.reference}")
    assert message.media_url == "https://chorus.example/media/media:c.png"
    assert message.body == "Messages per day"


def test_markdown_emphasis_in_whatsapp_form() -> None:
    assert formatted("**Breathe** out *slowly*, 2 * 3 = 6") == "*Breathe* out _slowly_, 2 * 3 = 6"


def test_numbers_and_the_window() -> None:
    assert normalise_number("+1 (415) 523-8886") == "+14155238886"
    assert normalise_number("whatsapp:+14155238886") == "+14155238886"
    assert normalise_number("004915112345678") == "+4915112345678"
    assert normalise_number("call me") is None
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert within_window(now - timedelta(hours=23, minutes=59), now)
    assert not within_window(now - timedelta(hours=24), now)
    assert not within_window(None, now)
