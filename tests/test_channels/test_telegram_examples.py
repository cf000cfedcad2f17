"""The example updates of Telegram's "testing your bot with updates" page, through the real
webhook: each is answered 200 and processed, and the messages among them are answered."""

from __future__ import annotations

import copy
import logging

import pytest
from sqlalchemy import select

from core.storage.models import InboundUpdate
from tests.fakes.telegram_examples import EXAMPLES
from tests.test_channels.test_telegram import (
    Setup,
    telegram,  # noqa: F401 - a fixture
)

CHAT = 1111111  # the chat every example is in
#: the examples a bot answers in the chat; the rest are inline mode, which has no chat
ANSWERED = [name for name in EXAMPLES if "inline" not in name]


def sent_to_chat(setup: Setup) -> int:
    methods = ("sendMessage", "sendVoice", "sendAudio", "sendDocument")
    return sum(
        1 for m in methods for c in setup.fake.calls_for(m) if c.params.get("chat_id") == CHAT
    )


async def test_every_example_on_telegrams_page_is_answered_200_and_processed(
    telegram: Setup,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="chorus")
    for number, (name, example) in enumerate(EXAMPLES.items()):
        update = copy.deepcopy(example)
        # the page gives every example update_id 10000; Telegram never repeats one
        update["update_id"] += number
        before = sent_to_chat(telegram)
        assert await telegram.post(update) == 200, name
        await telegram.settle()
        answered = sent_to_chat(telegram) > before
        assert answered is (name in ANSWERED), name
    async with telegram.services.db.read() as session:
        statuses = (await session.scalars(select(InboundUpdate.status))).all()
    assert statuses == ["done"] * len(EXAMPLES)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("chorus")] == []
    # the button press was acknowledged, so the user's client stops its spinner
    (pressed,) = telegram.fake.calls_for("answerCallbackQuery")
    assert pressed.params["callback_query_id"] == "4382bfdwdsb323b2d9"


async def test_a_voice_note_telegram_cannot_give_is_answered_with_the_reason(
    telegram: Setup,  # noqa: F811
) -> None:
    update = copy.deepcopy(EXAMPLES["voice message"])  # its file_id is made up
    assert await telegram.post(update) == 200
    await telegram.settle()
    assert "couldn't download that voice note" in telegram.texts()[-1]
