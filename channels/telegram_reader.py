"""Reading a Telegram update, including the sparse ones Telegram's own examples show.

aiogram's ``Update`` follows today's Bot API to the letter: a ``User`` must say
``is_bot``, a file must carry ``file_unique_id``, a callback query its ``chat_instance``,
an inline query's id must be a string. Telegram's "testing your bot with updates" page
(https://core.telegram.org/bots/webhooks#testing-your-bot-with-updates), older servers
and test tools send updates without some of these; a webhook that refused them would
only make Telegram send them again. :func:`read_update` validates as aiogram does and,
where pydantic reports a required field missing that no turn depends on, fills in a
neutral value and validates again; an id sent as a number where text is due is read as
that text. What still does not validate cannot be read (None).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from aiogram.types import Update
from pydantic import ValidationError

#: enough for every nested level the Bot API has (each round fixes all errors it sees)
MAX_ROUNDS = 4


def _chat_type(chat: dict[str, Any]) -> str | None:
    """A chat's ``type`` from its id, as Telegram numbers chats: users are positive,
    supergroups and channels ``-100…``, basic groups other negative ids."""
    chat_id = chat.get("id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        return None
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


#: the required fields a turn can do without, and the value to read when one is missing
_DEFAULTS: dict[str, Any] = {
    "is_bot": False,
    "first_name": "",
    "file_unique_id": "",
    "chat_instance": "",
    "date": 0,
    "duration": 0,
}


def read_update(payload: dict[str, Any]) -> Update | None:
    """The update in ``payload``, with neutral values for the required fields it lacks
    that a turn does not need; None when it cannot be read as an update."""
    try:
        return Update.model_validate(payload)
    except ValidationError as exc:
        errors: Sequence[Any] = exc.errors()
    filled = copy.deepcopy(payload)
    for _ in range(MAX_ROUNDS):
        if not all(_mend(filled, error) for error in errors):
            return None
        try:
            return Update.model_validate(filled)
        except ValidationError as exc:
            errors = exc.errors()
    return None


def _mend(payload: dict[str, Any], error: Any) -> bool:
    """Fix one validation error in place, if it is one a turn can live with."""
    *path, field = error["loc"]
    parent = _node(payload, path)
    if not isinstance(parent, dict) or not isinstance(field, str):
        return False
    if error["type"] == "missing":
        if field == "type" and path and str(path[-1]).endswith("chat"):
            value = _chat_type(parent)
        elif field in _DEFAULTS:
            value = _DEFAULTS[field]
        else:
            return False
        if value is None:
            return False
        parent[field] = value
        return True
    found = parent.get(field)
    if error["type"] == "string_type" and isinstance(found, int) and not isinstance(found, bool):
        parent[field] = str(found)  # an id written as a number
        return True
    return False


def _node(payload: Any, path: Sequence[Any]) -> Any:
    """The part of ``payload`` at a pydantic error location (union members' names, which
    the location carries but the payload does not, are stepped over)."""
    node = payload
    for part in path:
        inside = isinstance(node, dict) and part in node
        inside |= isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if inside:
            node = node[part]
        elif not (isinstance(part, str) and part[:1].isupper()):
            return None  # (a capitalised part is a union member's name, e.g. "ChatMemberMember")
    return node
