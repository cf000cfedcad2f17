"""Stripe Checkout: a payment page for a credit pack or a monthly tier, from the chat.

A Checkout Session is created with the stripe SDK (``STRIPE_API_BASE`` points it at
another server) in payment mode for a pack and subscription mode for a tier. Its
metadata (copied to the PaymentIntent or the subscription) names the bot, the account,
the offer and the channel, so every later webhook event finds its way back; the session
is also stored as a :class:`~core.storage.models.Payment` with the credits bought, so the
price paid is the price granted even if the creator changes it meanwhile. The success
and cancel pages lead back into the channel: a Telegram deep link (``?start=paid_…``), a
WhatsApp chat link, or a page of our own for the web widget.

Pressing the same pack twice within an hour reuses the open session; API callers may pass
an ``Idempotency-Key``, which Stripe also receives.
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from billing.pricing import Pack, Pricing, Tier
from bots.profile import BotProfile
from core.errors import ChorusError
from core.storage.database import Database
from core.storage.models import ChannelAccount, Payment, utcnow

if TYPE_CHECKING:
    from stripe.params.checkout import (
        SessionCreateParams,
        SessionCreateParamsLineItemPriceData,
    )

log = logging.getLogger("chorus.billing")

REUSE_OPEN = timedelta(hours=1)
SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


class PaymentsUnavailable(ChorusError):
    """Stripe is not configured, or could not be reached, or refused the request."""


@dataclass(frozen=True, slots=True)
class Buyer:
    """Who is paying, and where to lead them back to."""

    bot: BotProfile
    account_id: int
    channel: str
    sender_id: str


class Checkout:
    """Creates Checkout Sessions for a bot's packs and tiers. The stripe SDK is loaded
    when one is made, that is when Stripe is configured."""

    def __init__(
        self, db: Database, secret_key: str, public_base_url: str, api_base: str | None = None
    ) -> None:
        import stripe

        self._db = db
        self._base = public_base_url.rstrip("/")
        self._http = stripe.AIOHTTPClient()
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else {},
            http_client=self._http,
            max_network_retries=2,
        )

    async def start(
        self, buyer: Buyer, offer_id: str, idempotency_key: str | None = None
    ) -> Payment:
        """The checkout for ``offer_id``: reused if one is open, else created."""
        import stripe

        pricing = buyer.bot.pricing
        offer: Pack | Tier | None = pricing.pack(offer_id) or pricing.tier(offer_id)
        if offer is None:
            raise PaymentsUnavailable(f"there is no pack or plan called {offer_id!r}")
        async with self._db.read() as session:
            query = select(Payment).where(
                Payment.account_id == buyer.account_id,
                Payment.offer == offer.id,
                Payment.status == "open",
                Payment.created_at > utcnow() - REUSE_OPEN,
            )
            if idempotency_key is not None:
                query = select(Payment).where(Payment.idempotency_key == idempotency_key)
            reused = await session.scalar(query.order_by(Payment.created_at.desc()).limit(1))
        if reused is not None:
            return reused
        success, cancel = await self._return_pages(buyer)
        params = _session_params(buyer, offer, pricing, success, cancel)
        options: stripe.RequestOptions = {}
        if idempotency_key is not None:
            options["idempotency_key"] = f"chorus-{buyer.account_id}-{idempotency_key}"
        try:
            created = await self._client.v1.checkout.sessions.create_async(params, options)
        except stripe.StripeError as exc:
            log.warning("Stripe refused a checkout for bot %s: %s", buyer.bot.id, exc)
            raise PaymentsUnavailable(exc.user_message or str(exc)) from exc
        payment = Payment(
            id=created.id,
            account_id=buyer.account_id,
            bot_id=buyer.bot.id,
            channel=buyer.channel,
            sender_id=buyer.sender_id,
            offer=offer.id,
            mode=params["mode"],
            credits=offer.credits,
            amount=offer.price,
            currency=pricing.currency,
            url=created.url or "",
            status="open",
            idempotency_key=idempotency_key,
            credits_reversed=0,
            created_at=utcnow(),
        )
        try:
            async with self._db.transaction() as session:
                session.add(payment)
        except IntegrityError:  # the same Idempotency-Key raced us: Stripe gave the same id
            async with self._db.read() as session:
                stored = await session.get(Payment, created.id)
            if stored is None:
                raise
            return stored
        return payment

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _return_pages(self, buyer: Buyer) -> tuple[str, str]:
        """Where Stripe sends the buyer after paying or giving up: back into the chat."""
        async with self._db.read() as session:
            account = await session.scalar(
                select(ChannelAccount).where(
                    ChannelAccount.bot_id == buyer.bot.id, ChannelAccount.channel == buyer.channel
                )
            )
        if buyer.channel == "telegram" and account is not None and account.username:
            link = f"https://t.me/{account.username}?start="
            return f"{link}paid_{SESSION_PLACEHOLDER}", f"{link}unpaid_{SESSION_PLACEHOLDER}"
        if buyer.channel == "whatsapp" and account is not None:
            number = "".join(ch for ch in account.external_id if ch.isdigit())
            text = urllib.parse.quote("I've paid")
            return f"https://wa.me/{number}?text={text}", f"https://wa.me/{number}"
        page = f"{self._base}/billing/done?bot={urllib.parse.quote(buyer.bot.id)}"
        return (
            f"{page}&session_id={SESSION_PLACEHOLDER}&status=paid",
            f"{page}&session_id={SESSION_PLACEHOLDER}&status=cancelled",
        )


def _session_params(
    buyer: Buyer, offer: Pack | Tier, pricing: Pricing, success: str, cancel: str
) -> SessionCreateParams:
    metadata = {
        "bot_id": buyer.bot.id,
        "account_id": str(buyer.account_id),
        "offer": offer.id,
        "channel": buyer.channel,
        "sender_id": buyer.sender_id,
    }
    monthly = isinstance(offer, Tier)
    name = (
        f"{buyer.bot.name}: {offer.id} plan, {offer.credits} credits a month"
        if monthly
        else f"{buyer.bot.name}: {offer.credits} credits"
    )
    price: SessionCreateParamsLineItemPriceData = {
        "currency": pricing.currency,
        "unit_amount": offer.price,
        "product_data": {"name": name[:250]},
    }
    params: SessionCreateParams = {
        "mode": "subscription" if monthly else "payment",
        "line_items": [{"quantity": 1, "price_data": price}],
        "success_url": success,
        "cancel_url": cancel,
        "client_reference_id": f"{buyer.bot.id}:{buyer.account_id}",
        "metadata": metadata,
    }
    if monthly:
        price["recurring"] = {"interval": "month"}
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    return params
