"""What a process remembers between turns so a busy conversation skips a database read.

A cached conversation carries the version it was stored with; the turn writer refuses a
turn decided on an outdated version (:class:`core.errors.StaleConversation`), so a copy
made stale by another process costs a retry, never a wrong answer. Deliveries handled
recently are remembered too: a redelivery of one of them is answered from storage, and
one this process has forgotten is caught by the database's unique constraint instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from core.storage.repository import Party

PartyKey = tuple[str, str, str]  # bot id, channel, sender id
DeliveryKey = tuple[str, str, str]  # bot id, channel, platform message id


class _Bounded(OrderedDict[Hashable, object]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: Hashable, value: object) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.limit:
            self.popitem(last=False)


class ConversationCache:
    """Least-recently-used copies of conversations and ids of handled deliveries."""

    def __init__(self, max_conversations: int = 10_000, max_deliveries: int = 50_000) -> None:
        self._parties = _Bounded(max_conversations)
        self._deliveries = _Bounded(max_deliveries)

    def party(self, key: PartyKey) -> Party | None:
        party = self._parties.get(key)
        if party is None:
            return None
        self._parties.move_to_end(key)
        assert isinstance(party, Party)
        return party

    def remember(self, key: PartyKey, party: Party) -> None:
        self._parties.put(key, party)

    def forget(self, key: PartyKey) -> None:
        self._parties.pop(key, None)

    def handled(self, key: DeliveryKey) -> bool:
        return key in self._deliveries

    def mark_handled(self, key: DeliveryKey) -> None:
        self._deliveries.put(key, None)
