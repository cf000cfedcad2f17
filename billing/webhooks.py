"""Stripe webhooks: signed, applied once, safe in any order and however late.

``POST /webhooks/stripe`` hands the raw body and its ``Stripe-Signature`` here. The
signature is checked by the stripe SDK (HMAC-SHA256 over ``timestamp.body``, 300 s
tolerance); anything else is refused with a reason. Each event id is recorded in
``stripe_events`` in the same transaction as its effect, and first: a redelivery, or the
same event arriving twice at once, finds the record (or waits on it and then finds it) and
changes nothing.

* ``checkout.session.completed`` (and ``…async_payment_succeeded``): a pack's credits are
  granted; a tier's subscription is attached to the account.
* ``invoice.paid``: a tier's monthly allowance, once per invoice.
* ``customer.subscription.created|updated|deleted``: the account's tier, ignoring events
  older than the one already applied.
* ``charge.refunded``: the refunded share of a pack's credits is taken back, into debt
  when some were spent; a refund that arrives before its payment is kept and applied
  when the payment does.
* ``payment_intent.payment_failed``: the buyer is told.

Other types are acknowledged and ignored. After the transaction, the user hears about it
on their channel, and a conversation waiting on the paywall goes on to create its content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing import ledger as books
from bots.registry import BotDirectory
from core.conversation import guided
from core.conversation.turn import TurnInput, TurnResult, Wallet
from core.errors import ChorusError, UnknownBot
from core.i18n.translator import Translator
from core.messages import OutboundMessage
from core.outbox import Address
from core.runtime import integrations
from core.storage.database import Database
from core.storage.models import CreditAccount, Payment, StripeEvent, StripeRefund

log = logging.getLogger("chorus.billing")

TOLERANCE = 300
MAX_BODY = 512 * 1024
_ACTIVE = frozenset({"active", "trialing", "past_due"})

#: runs a turn without a user message for ``address``, as the engine's system_turn does
SystemTurn = Callable[
    [Address, Callable[[TurnResult, Wallet | None], Awaitable[None]]],
    Awaitable[list[OutboundMessage]],
]
Send = Callable[[Address, list[OutboundMessage]], Awaitable[object]]


class WebhookRejected(ChorusError):
    """A webhook call that is not a genuine, well-formed Stripe event."""


@dataclass(frozen=True, slots=True)
class Notice:
    """What to tell a user once the event's transaction committed: ``words`` write it in
    the user's language (known when their conversation is loaded to tell them)."""

    address: Address
    words: Callable[[Translator], str]
    resume: bool = False  # credits arrived: a paywalled confirmation may go on


@dataclass(frozen=True, slots=True)
class Handled:
    event_id: str
    type: str
    outcome: str
    duplicate: bool = False


class StripeWebhooks:
    """Verifies and applies Stripe's webhook events."""

    def __init__(
        self,
        db: Database,
        bots: BotDirectory,
        secret: str,
        system_turn: SystemTurn,
        send: Send,
    ) -> None:
        self._db = db
        self._bots = bots
        self._secret = secret
        self._system_turn = system_turn
        self._send = send

    async def receive(self, body: bytes, signature: str | None) -> Handled:
        """Check and apply one delivery; raises :class:`WebhookRejected`."""
        if len(body) > MAX_BODY:
            raise WebhookRejected("the body is too large for a Stripe event")
        if not signature:
            raise WebhookRejected("the Stripe-Signature header is missing")
        import stripe  # on the first event rather than at every start: a tenth of a second

        try:
            stripe.WebhookSignature.verify_header(
                body.decode("utf-8"), signature, self._secret, TOLERANCE
            )
            event = json.loads(body)
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(f"the signature does not verify: {exc.user_message}") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookRejected("the body is not a JSON event") from exc
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise WebhookRejected("the body is not a Stripe event")
        data = event.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            raise WebhookRejected("the event has no data.object")
        if not isinstance(event.get("type"), str) or not isinstance(event.get("created", 0), int):
            raise WebhookRejected("the event's type or created time is malformed")
        event_id, kind = event["id"][:255], event["type"][:100]
        notices: list[Notice] = []
        try:
            async with self._db.transaction() as session:
                if await session.get(StripeEvent, event_id) is not None:
                    return Handled(event_id, kind, "already applied", duplicate=True)
                record = StripeEvent(id=event_id, type=kind, outcome="")
                session.add(record)
                await session.flush()  # a concurrent twin waits here, then fails
                try:
                    record.outcome = (await self._apply(session, event, notices))[:200]
                except (AttributeError, KeyError, TypeError, ValueError) as exc:
                    # a field of the wrong shape: nothing of it is kept (the transaction
                    # rolls back) and Stripe is told
                    raise WebhookRejected(f"the {kind} event is malformed ({exc})") from exc
        except IntegrityError:
            return Handled(event_id, kind, "already applied", duplicate=True)
        for notice in notices:
            await self._tell(notice)
        log.info("Stripe event %s (%s): %s", event_id, kind, record.outcome)
        return Handled(event_id, kind, record.outcome)

    async def _apply(
        self, session: AsyncSession, event: dict[str, Any], notices: list[Notice]
    ) -> str:
        kind = event["type"]
        obj: dict[str, Any] = event["data"]["object"]
        created = int(event.get("created") or 0)
        if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            return await self._checkout_paid(session, event["id"], obj, notices)
        if kind == "invoice.paid":
            return await self._invoice_paid(session, obj, notices)
        if kind.startswith("customer.subscription."):
            return await self._subscription(session, kind, obj, created)
        if kind == "charge.refunded":
            return await self._refunded(session, obj, notices)
        if kind == "payment_intent.payment_failed":
            return await self._payment_failed(session, obj, notices)
        return "ignored"

    # -- the events ------------------------------------------------------------------------

    async def _checkout_paid(
        self, session: AsyncSession, event_id: str, obj: dict[str, Any], notices: list[Notice]
    ) -> str:
        payment = await session.get(Payment, str(obj.get("id")), with_for_update=True)
        if payment is None:
            return "not a checkout of ours"
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            return "waiting for the payment"
        if payment.status == "paid":
            return "already paid"
        payment.status = "paid"
        if payment.mode == "subscription":
            payment.subscription_id = _text(obj.get("subscription"))
            account = await books.locked(session, payment.account_id)
            if payment.subscription_id and account.subscription_id != payment.subscription_id:
                account.subscription_id = payment.subscription_id
                account.tier = payment.offer
            notices.append(
                Notice(
                    _address(payment),
                    partial(_subscribed, plan=payment.offer),
                )
            )
            await _completed(session, payment)
            return f"subscribed to {payment.offer}"
        payment.payment_intent = _text(obj.get("payment_intent"))
        await _completed(session, payment)
        entry = await books.post(
            session,
            payment.account_id,
            kind="purchase",
            amount=payment.credits,
            key=f"purchase:{payment.id}",
            cause=f"stripe:{event_id}",
        )
        refund = (
            await session.get(StripeRefund, payment.payment_intent)
            if payment.payment_intent
            else None
        )
        if refund is not None:
            await self._reverse(session, payment, refund, notices)
            return f"granted {payment.credits}, then refunded"
        notices.append(
            Notice(
                _address(payment),
                partial(_received, credits=payment.credits, balance=entry.balance_after),
                resume=True,
            )
        )
        return f"granted {payment.credits}"

    async def _invoice_paid(
        self, session: AsyncSession, obj: dict[str, Any], notices: list[Notice]
    ) -> str:
        subscription, metadata = _subscription_of(obj)
        account = await _account_for(session, subscription, metadata)
        if account is None:
            return "not a subscription of ours"
        payment = await session.scalar(
            select(Payment)
            .where(Payment.account_id == account.id, Payment.mode == "subscription")
            .where(
                (Payment.subscription_id == subscription)
                | (Payment.offer == metadata.get("offer", ""))
            )
            .order_by(Payment.created_at.desc())
            .limit(1)
        )
        if payment is None:
            return "no plan to renew"
        if subscription and account.subscription_id is None:
            account.subscription_id, account.tier = subscription, payment.offer
        entry = await books.post(
            session,
            account.id,
            kind="allowance",
            amount=payment.credits,
            key=f"allowance:{obj.get('id')}",
            cause=f"stripe:invoice:{obj.get('id')}",
        )
        notices.append(
            Notice(
                _address(payment),
                partial(
                    _allowance,
                    plan=payment.offer,
                    credits=payment.credits,
                    balance=entry.balance_after,
                ),
                resume=True,
            )
        )
        return f"allowance {payment.credits}"

    async def _subscription(
        self, session: AsyncSession, kind: str, obj: dict[str, Any], created: int
    ) -> str:
        subscription = _text(obj.get("id"))
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        account = await _account_for(session, subscription, metadata or {})
        if account is None:
            return "not a subscription of ours"
        account = await books.locked(session, account.id)
        if created < account.tier_changed_at:
            return "older than the tier already applied"
        ended = kind.endswith(".deleted") or obj.get("status") not in _ACTIVE
        if ended and account.subscription_id not in (None, subscription):
            return "an earlier subscription ended"
        account.tier_changed_at = created
        if ended:
            account.tier = None
            account.subscription_id = None
            return "tier ended"
        account.subscription_id = subscription
        account.tier = str((metadata or {}).get("offer") or account.tier or "")[:32] or None
        return f"tier {account.tier}"

    async def _refunded(
        self, session: AsyncSession, obj: dict[str, Any], notices: list[Notice]
    ) -> str:
        intent = _text(obj.get("payment_intent"))
        if intent is None:
            return "a refund without a payment intent"
        refunded, amount = int(obj.get("amount_refunded") or 0), int(obj.get("amount") or 0)
        refund = await session.get(StripeRefund, intent, with_for_update=True)
        if refund is None:
            refund = StripeRefund(payment_intent=intent, amount_refunded=refunded, amount=amount)
            session.add(refund)
        else:  # cumulative: a late, smaller figure never undoes a larger one
            refund.amount_refunded = max(refund.amount_refunded, refunded)
            refund.amount = amount or refund.amount
        await session.flush()
        payment = await session.scalar(
            select(Payment).where(Payment.payment_intent == intent).with_for_update()
        )
        if payment is None:
            return "refund kept until its payment is known"
        return await self._reverse(session, payment, refund, notices)

    async def _reverse(
        self,
        session: AsyncSession,
        payment: Payment,
        refund: StripeRefund,
        notices: list[Notice],
    ) -> str:
        whole = refund.amount or payment.amount
        target = (
            payment.credits
            if refund.amount_refunded >= whole
            else payment.credits * refund.amount_refunded // max(whole, 1)
        )
        take = target - payment.credits_reversed
        if take <= 0:
            return "nothing more to reverse"
        entry = await books.post(
            session,
            payment.account_id,
            kind="reversal",
            amount=-take,
            key=f"reversal:{payment.id}:{target}",
            cause=f"stripe:refund:{refund.payment_intent}",
            into_debt=True,
        )
        payment.credits_reversed = target
        notices.append(
            Notice(
                _address(payment),
                partial(_refunded, take=take, owed=entry.debt_change, balance=entry.balance_after),
            )
        )
        return f"reversed {take}"

    async def _payment_failed(
        self, session: AsyncSession, obj: dict[str, Any], notices: list[Notice]
    ) -> str:
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        account = await _account_for(session, None, metadata or {})
        if account is None or not metadata:
            return "not a payment of ours"
        error = obj.get("last_payment_error") or {}
        reason = error.get("message") if isinstance(error, dict) else None
        address = Address(
            str(metadata.get("bot_id")),
            str(metadata.get("channel")),
            str(metadata.get("sender_id")),
        )
        said = str(reason)[:200] if reason else None
        notices.append(
            Notice(
                address,
                lambda tr: (
                    tr.gettext(
                        "Your payment didn't go through: %(reason)s. Nothing was charged; "
                        "/buy to try again.",
                        reason=said,
                    )
                    if said
                    else tr.gettext(
                        "Your payment didn't go through. Nothing was charged; /buy to try again."
                    )
                ),
            )
        )
        return "buyer told"

    # -- telling the user ------------------------------------------------------------------

    async def _tell(self, notice: Notice) -> None:
        try:
            bot = await self._bots.get(notice.address.bot_id)
        except UnknownBot:
            return

        async def decide(result: TurnResult, wallet: Wallet | None) -> None:
            result.say(notice.words(result.tr))
            if notice.resume:
                turn = TurnInput(bot, result.state, result.context, wallet=wallet)
                await guided.resume_paid(turn, result)

        try:
            replies = await self._system_turn(notice.address, decide)
            await self._send(notice.address, replies)
        except Exception:  # the credits are booked; the message is a courtesy
            log.exception("telling %s about a payment failed", notice.address)


def _subscribed(tr: Translator, *, plan: str) -> str:
    return tr.gettext("You're on the %(plan)s plan now. Thank you!", plan=plan)


def _received(tr: Translator, *, credits: int, balance: int) -> str:
    return tr.ngettext(
        "Payment received: %(count)s credit added. You have %(balance)s now.",
        "Payment received: %(count)s credits added. You have %(balance)s now.",
        credits,
        balance=tr.number(balance),
    )


def _allowance(tr: Translator, *, plan: str, credits: int, balance: int) -> str:
    return tr.ngettext(
        "Your %(plan)s plan added %(count)s credit. You have %(balance)s now.",
        "Your %(plan)s plan added %(count)s credits. You have %(balance)s now.",
        credits,
        plan=plan,
        balance=tr.number(balance),
    )


def _refunded(tr: Translator, *, take: int, owed: int, balance: int) -> str:
    """What a buyer is told when a refund took ``take`` credits back, ``owed`` of them
    already spent."""
    taken = tr.ngettext(
        "Your payment was refunded, so %(count)s credit was taken back.",
        "Your payment was refunded, so %(count)s credits were taken back.",
        take,
    )
    left = tr.gettext("You have %(balance)s now.", balance=tr.number(balance))
    if owed <= 0:
        return f"{taken} {left}"
    spent = tr.ngettext(
        "%(count)s credit already spent is owed.", "%(count)s credits already spent are owed.", owed
    )
    return f"{taken} {spent} {left}"


def _text(value: object) -> str | None:
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    return str(value)[:255] if value else None


def _address(payment: Payment) -> Address:
    return Address(payment.bot_id, payment.channel, payment.sender_id)


def _subscription_of(invoice: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The subscription an invoice bills and its metadata, in old and new API shapes."""
    parent = invoice.get("parent") or {}
    details = (parent.get("subscription_details") if isinstance(parent, dict) else None) or {}
    old = invoice.get("subscription_details") or {}
    subscription = _text(invoice.get("subscription")) or _text(details.get("subscription"))
    metadata = details.get("metadata") or old.get("metadata") or {}
    if not metadata:
        lines = (invoice.get("lines") or {}).get("data") or []
        metadata = (lines[0].get("metadata") if lines else None) or {}
    return subscription, metadata if isinstance(metadata, dict) else {}


async def _account_for(
    session: AsyncSession, subscription: str | None, metadata: dict[str, Any]
) -> CreditAccount | None:
    """The account an event is about: by its subscription, else by our metadata (whose
    bot must match the account's)."""
    if subscription:
        found = await session.scalar(
            select(CreditAccount).where(CreditAccount.subscription_id == subscription)
        )
        if found is not None:
            return found
    account_id = str(metadata.get("account_id", ""))
    if not account_id.isdigit():
        return None
    account = await session.get(CreditAccount, int(account_id))
    if account is None or account.bot_id != metadata.get("bot_id"):
        return None
    return account


async def _completed(session: AsyncSession, payment: Payment) -> None:
    """Tell the creator's webhooks, in the transaction that records the payment."""
    account = await session.get(CreditAccount, payment.account_id)
    await integrations.record(
        session,
        payment.bot_id,
        "payment.completed",
        {
            "payment_id": payment.id,
            "user_id": account.end_user_id if account else None,
            "mode": payment.mode,
            "offer": payment.offer,
            "credits": payment.credits,
            "amount": payment.amount,
            "currency": payment.currency,
        },
    )
