"""A bot's people for benchmarks of what creators read: end users with their channel
identities, conversations and messages, content and credits, written straight into the
database in batches (SQLAlchemy core, executemany) as if they had talked to the bot over
the past month.

Rows are made in the order they would have been written, and numbered in that order:
users by when they arrived, messages, content and ledger entries by their moment (so one
conversation's messages interleave with the others', as they do). A user's conversation
was last active some time in the past 30 days, more often lately; each exchange is a
question and its reply (``reply_to_id``), the reply marked ``grounded`` or not as the
engine marks answers from (or beyond) the bot's notes.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from tqdm import tqdm

from core.storage.database import Database
from core.storage.models import Base, utcnow

BATCH = 5_000  # rows per executemany
#: the tables whose ids the seeding gives itself
NUMBERED = (
    "end_users", "conversations", "messages", "content_items", "credit_accounts", "ledger_entries",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Population:
    """How many end users (each with one conversation), pieces of content and credit
    accounts."""

    users: int
    content: int
    accounts: int


FIRST_NAMES = "Ana Ben Chloé Dmitri Eun-ji Farah Gustavo Hana Ivan Jonas Kemal Lena Mateo Noor"
LAST_NAMES = "Smith García Müller Rossi Kowalski Nguyen Silva Dubois Yilmaz Tanaka Okafor Berg"
LANGUAGES = ("en", "en", "en", "es", "de", "fr", "pt", None)
CHANNELS = ("telegram",) * 5 + ("whatsapp",) * 3 + ("widget",) * 2
STATES = ("chat",) * 14 + ("greeting", "greeting", "delivered", "paywall", "handoff", "confirm")
CONTENT_TYPES = ("meditation", "meditation", "affirmations", "ritual")
QUESTIONS = (
    "How do I calm down before sleep?",
    "What is box breathing?",
    "I feel anxious at work, any tips?",
    "Can you make me a 10-minute meditation?",
    "Why does my mind wander so much?",
    "How long should I meditate as a beginner?",
    "What should I do when I feel light-headed?",
)
BUTTONS = [
    {"label": "A meditation", "payload": "choose:meditation"},
    {"label": "Ask something else", "payload": "ask"},
]
ANSWER = (
    "Try breathing in for four counts, holding for four, out for four and holding again. "
    "Sit comfortably, let your shoulders drop and notice where the breath moves. When "
    "thoughts come, name them kindly and return to counting. A few minutes a day is "
    "plenty to start with; consistency matters more than length."
)


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def plan(
    bot_id: str, population: Population, first: dict[str, int], now: datetime
) -> dict[str, list[Any]]:
    """The rows of each table, as dicts for executemany, ids from ``first[table]`` on and
    in the order the rows were written (by ``created_at``)."""
    rng = random.Random(7)
    firsts, lasts = FIRST_NAMES.split(), LAST_NAMES.split()
    people = []  # (created, last active)
    for _ in range(population.users):
        active = now - timedelta(days=30 * rng.random() ** 2)  # most were here lately
        people.append((active - timedelta(days=min(rng.expovariate(1 / 5), 60)), active))
    people.sort()
    users: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []
    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for n, (created, active) in enumerate(people):
        user_id, conversation_id = first["end_users"] + n, first["conversations"] + n
        channel = rng.choice(CHANNELS)
        users.append(
            {
                "id": user_id,
                "bot_id": bot_id,
                "display_name": f"{rng.choice(firsts)} {rng.choice(lasts)}",
                "language": rng.choice(LANGUAGES),
                "voice_enabled": rng.random() < 0.2,
                "voice_preferences": {},
                "created_at": created,
            }
        )
        also = channel != "telegram" and rng.random() < 0.1  # found them on Telegram too
        for where in (channel, "telegram") if also else (channel,):
            identities.append(
                {
                    "bot_id": bot_id,
                    "channel": where,
                    "external_id": _external_id(where, n),
                    "end_user_id": user_id,
                    "reachable": rng.random() < 0.97,
                    "created_at": created,
                }
            )
        state = rng.choice(STATES)
        pairs = rng.randint(2, 8)
        conversations.append(
            {
                "id": conversation_id,
                "bot_id": bot_id,
                "end_user_id": user_id,
                "state": state,
                "context": {"topic": "sleep"} if state != "chat" else {},
                "version": pairs * 2,
                "created_at": created,
                "updated_at": active,
            }
        )
        asked = sorted(_moment(rng, created, active) for _ in range(pairs - 1))
        for i, moment in enumerate([*asked, active - timedelta(seconds=rng.uniform(1, 8))]):
            later = active if i == pairs - 1 else moment + timedelta(seconds=rng.uniform(1, 8))
            after = state if i == pairs - 1 else "chat"
            question = _message(conversation_id, channel, "in", after, moment)
            question["text"] = rng.choice(QUESTIONS)
            reply = _message(conversation_id, channel, "out", after, later)
            reply["text"] = ANSWER[: rng.randint(120, len(ANSWER))]
            # answered from the bot's notes, or not covered by them (the statistics count it)
            reply["payload"] = {"kind": "text", "grounded": rng.random() < 0.85}
            if rng.random() < 0.3:
                reply["payload"]["buttons"] = BUTTONS
            reply["reply_to"] = question
            messages += (question, reply)
    _number(messages, first["messages"])
    for row in messages:
        row["reply_to_id"] = row.pop("reply_to")["id"] if "reply_to" in row else None
    return {
        "end_users": users,
        "channel_identities": identities,
        "conversations": conversations,
        "messages": messages,
        "content_items": _content(rng, bot_id, users, people, population.content, first),
        **_credits(rng, bot_id, users, people, population.accounts, first),
    }


def _external_id(channel: str, n: int) -> str:
    if channel == "telegram":
        return str(500_000_000 + n)
    if channel == "whatsapp":
        return f"+4915{n:09d}"
    return f"v{random.Random(n).getrandbits(96):024x}"


def _message(
    conversation_id: int, channel: str, direction: str, state: str, at: datetime
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "direction": direction,
        "channel": channel,
        "state": state,
        "text": "",
        "payload": {},
        "created_at": at,
    }


def _number(rows: list[dict[str, Any]], first: int) -> None:
    """Sort ``rows`` by when they were written and give them ids in that order."""
    rows.sort(key=lambda row: row["created_at"])
    for n, row in enumerate(rows):
        row["id"] = first + n


def _content(
    rng: random.Random,
    bot_id: str,
    users: list[dict[str, Any]],
    people: list[tuple[datetime, datetime]],
    count: int,
    first: dict[str, int],
) -> list[dict[str, Any]]:
    items = []
    for _ in range(count):
        n = rng.randrange(len(users))
        kind = rng.choice(CONTENT_TYPES)
        audio: dict[str, Any] = {}
        if rng.random() < 0.7:
            name = f"{rng.getrandbits(128):032x}"
            audio = {"ogg": f"media:{name}.ogg", "mp3": f"media:{name}.mp3", "duration": 312.5}
        items.append(
            {
                "bot_id": bot_id,
                "end_user_id": users[n]["id"],
                "content_type": kind,
                "title": f"A {kind} for better sleep",
                "parameters": {"goal": "sleep", "minutes": rng.choice((5, 10, 15)), "voice": "en"},
                "text": (ANSWER + " ") * rng.randint(2, 5),
                "audio": audio,
                "job_id": f"{rng.getrandbits(128):032x}",
                "created_at": _moment(rng, *people[n]),
            }
        )
    _number(items, first["content_items"])
    return items


def _credits(
    rng: random.Random,
    bot_id: str,
    users: list[dict[str, Any]],
    people: list[tuple[datetime, datetime]],
    count: int,
    first: dict[str, int],
) -> dict[str, list[dict[str, Any]]]:
    accounts, entries = [], []
    for a, n in enumerate(sorted(rng.sample(range(len(users)), count))):
        account_id, balance = first["credit_accounts"] + a, 0
        moments = sorted(_moment(rng, *people[n]) for _ in range(rng.randint(2, 14)))
        for e, moment in enumerate(moments):
            if e == 0:
                kind, amount, cause = "free_grant", 5, "welcome"
            elif balance < 3 or rng.random() < 0.2:
                kind, amount, cause = "purchase", 50, f"stripe:cs_{rng.getrandbits(64):016x}"
            else:
                kind, amount, cause = "capture", -rng.randint(1, 3), f"job:{e}"
            balance += amount
            entries.append(
                {
                    "account_id": account_id,
                    "kind": kind,
                    "amount": amount,
                    "debt_change": 0,
                    "balance_after": balance,
                    "idempotency_key": f"seed:{account_id}:{e}",
                    "hold_id": None,
                    "cause": cause,
                    "created_at": moment,
                }
            )
        accounts.append(
            {
                "id": account_id,
                "bot_id": bot_id,
                "end_user_id": users[n]["id"],
                "balance": balance,
                "debt": 0,
                "tier": "calm" if rng.random() < 0.1 else None,
                "subscription_id": None,
                "tier_changed_at": 0,
                "created_at": moments[0],
            }
        )
    _number(entries, first["ledger_entries"])
    return {"credit_accounts": accounts, "ledger_entries": entries}


@dataclass(frozen=True, slots=True)
class Seeded:
    """What :func:`seed` wrote: the ids to ask the API about, rows per table, how long."""

    users: list[int]
    conversations: list[int]
    account_users: list[int]  # the users with a credit account
    rows: dict[str, int] = field(repr=False)
    seconds: float


async def seed(db: Database, bot_id: str, population: Population) -> Seeded:
    """Insert the bot's people (:func:`plan`) in batches, with a progress bar; on
    PostgreSQL, move the sequences past the ids given and take statistics (``ANALYZE``,
    as autovacuum soon would after so many rows; SQLite gets none, as the server never
    runs one)."""
    started = time.monotonic()
    tables = Base.metadata.tables
    first: dict[str, int] = {}
    async with db.read() as session:
        for name in NUMBERED:
            first[name] = (await session.scalar(select(func.max(tables[name].c.id))) or 0) + 1
    rows = plan(bot_id, population, first, utcnow())
    with tqdm(total=sum(map(len, rows.values())), unit="row", file=sys.stderr) as bar:
        for name, table_rows in rows.items():
            bar.set_description(name)
            for start in range(0, len(table_rows), BATCH):
                async with db.transaction() as session:
                    await session.execute(insert(tables[name]), table_rows[start : start + BATCH])
                bar.update(len(table_rows[start : start + BATCH]))
    if not db.is_sqlite:
        async with db.engine.begin() as conn:
            for name in NUMBERED:  # explicit ids leave the sequences behind
                sequence = func.pg_get_serial_sequence(name, "id")
                await conn.execute(select(func.setval(sequence, func.max(tables[name].c.id))))
            await conn.execute(text("ANALYZE"))
    return Seeded(
        users=[u["id"] for u in rows["end_users"]],
        conversations=[c["id"] for c in rows["conversations"]],
        account_users=[a["end_user_id"] for a in rows["credit_accounts"]],
        rows={name: len(table_rows) for name, table_rows in rows.items()},
        seconds=round(time.monotonic() - started, 1),
    )
