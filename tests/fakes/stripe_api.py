"""A stand-in for Stripe's API (``api.stripe.com``): Checkout Sessions, and the webhook
events that follow what a customer does on the Checkout page.

It speaks the real wire format: ``POST /v1/checkout/sessions`` (a form in Stripe's
bracket notation, checked as Stripe checks it) answered with a Checkout Session, and
``GET /v1/checkout/sessions/{id}``, behind ``Authorization: Bearer <secret key>``. Errors
are Stripe's JSON with its statuses, so the SDK raises its own exceptions. A POST's
``Idempotency-Key`` (per secret key) replays the first answer, marked
``Idempotent-Replayed: true``, for the same parameters, and is an ``idempotency_error``
for others; as on Stripe, refused requests and injected faults are not stored, so a
retry with the same key goes through. Every request is recorded as a :class:`Call` in
``requests``. Point the SDK (``stripe>=16``) at :attr:`FakeStripe.url`::

    stripe.StripeClient(key, base_addresses={"api": fake.url}, http_client=AIOHTTPClient())

Nobody pays here: :meth:`~FakeStripe.complete`, :meth:`~FakeStripe.refund`,
:meth:`~FakeStripe.invoice_paid`, :meth:`~FakeStripe.subscription_event` and
:meth:`~FakeStripe.payment_failed` change the fake's state and return the Event Stripe
would send, for a test to sign with :func:`tests.fakes.stripe_wire.signed` and post.
Deliberately simple: webhooks are not posted, sessions do not expire, and each helper
makes only the event it names (not the ``invoice.created``, ... that come with it).
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.fakes.stripe_wire import (
    SECRET_KEY,
    Call,
    Fault,
    LineItem,
    Price,
    StripeError,
    checked_lines,
    checkout_session,
    decode_form,
    idempotency_mismatch,
    invalid,
    new_event,
    new_id,
    not_found,
    period_end,
    template,
    unauthorized,
)

Resource = dict[str, Any]  # a JSON object as Stripe sends it: an API resource or an Event
Handler = Callable[[web.Request, dict[str, Any]], Awaitable[Resource]]


@dataclass(slots=True)
class StoredSession:
    """A Checkout Session and what the fake keeps beside it: its line items, the metadata
    its PaymentIntent or Subscription will carry, its charge and the refunds of it."""

    resource: dict[str, Any]
    lines: list[LineItem]
    payment_metadata: dict[str, str]
    subscription_metadata: dict[str, str]
    charge: str | None = None
    refunds: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class StoredSubscription:
    """A Subscription a completed session started: its recurring line, metadata and
    current ``period`` (start, end); ``first_invoice`` is the invoice the Checkout
    payment paid, until :meth:`FakeStripe.invoice_paid` reports it."""

    id: str
    customer: str
    line: LineItem
    metadata: dict[str, str]
    item_id: str
    created: int
    period: tuple[int, int]
    latest_invoice: str
    first_invoice: str | None
    status: str = "active"


@dataclass(slots=True)
class FakeStripe:
    """The server's state: the secret key it accepts, the Prices a line item may name by
    id, the sessions and subscriptions, and every request in ``requests``. ``url`` is
    set by :meth:`start` (or by a test that serves :meth:`app` itself)."""

    secret_key: str = SECRET_KEY
    url: str = ""
    prices: dict[str, Price] = field(default_factory=dict)
    sessions: dict[str, StoredSession] = field(default_factory=dict)
    subscriptions: dict[str, StoredSubscription] = field(default_factory=dict)
    requests: list[Call] = field(default_factory=list)
    _idempotent: dict[tuple[str, str], Call] = field(default_factory=dict)
    _faults: list[Fault] = field(default_factory=list)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        """An aiohttp application serving this fake."""
        app = web.Application()
        self._released.clear()
        app.router.add_post("/v1/checkout/sessions", self._route(self._create_session))
        app.router.add_get("/v1/checkout/sessions/{id}", self._route(self._retrieve_session))
        app.router.add_route("*", "/{tail:.*}", self._route(self._unknown))
        app.on_shutdown.append(self._release)
        return app

    async def start(self) -> str:
        """Serve on a free port of 127.0.0.1; returns (and sets) ``url``."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        """Stop serving; requests left hanging are let go first."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- set-up by tests ------------------------------------------------------------

    def add_price(
        self,
        unit_amount: int,
        currency: str = "eur",
        *,
        name: str = "Chorus",
        interval: str | None = None,
        interval_count: int = 1,
    ) -> Price:
        """A Price a line item may name as ``line_items[0][price]``."""
        ids = new_id("price"), new_id("prod", 14)
        price = Price(*ids, name, currency, unit_amount, interval, interval_count)
        self.prices[price.id] = price
        return price

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` requests (after the API key check) with ``status`` and an
        ``api_error``. The SDK retries these when ``max_network_retries`` allows."""
        self._faults.append(Fault(n, status))

    def hang_next(self, n: int = 1) -> None:
        """Leave the next ``n`` requests unanswered until the server closes, to exercise
        a client's timeout."""
        self._faults.append(Fault(n, None))

    # -- inspection -----------------------------------------------------------------

    def calls_to(self, method: str = "POST", path: str = "/v1/checkout/sessions") -> list[Call]:
        """The requests of ``method`` to ``path`` (or below it), in order."""
        return [c for c in self.requests if c.method == method and c.path.startswith(path)]

    # -- what happens on Stripe's side ----------------------------------------------

    def complete(self, session_id: str, *, created: int | None = None) -> Resource:
        """The customer paid: the session becomes ``complete`` and ``paid``, with a new
        Customer (unless it named one) and a PaymentIntent and Charge (payment mode) or
        a Subscription and its first Invoice (subscription mode). Returns the
        ``checkout.session.completed`` event."""
        stored = self.sessions[session_id]
        session, now = stored.resource, int(time.time())
        if session["status"] != "open":
            raise ValueError(f"{session_id} is {session['status']}, not open")
        email = session["customer_email"] or "customer@example.com"  # typed in on the page
        details = dict.fromkeys(("address", "name", "phone")) | {"email": email, "tax_ids": []}
        session.update(
            status="complete",
            payment_status="no_payment_required" if session["mode"] == "setup" else "paid",
            customer=session["customer"] or new_id("cus", 14),
            customer_details=details | {"tax_exempt": "none"},
            url=None,
        )
        if session["mode"] == "payment":
            session["payment_intent"] = session["payment_intent"] or new_id("pi")
            stored.charge = new_id("ch")
        elif session["mode"] == "subscription":
            line = next(line for line in stored.lines if line.price.interval)
            invoice = new_id("in")
            sub = StoredSubscription(
                new_id("sub"),
                session["customer"],
                line,
                dict(stored.subscription_metadata),
                item_id=new_id("si", 14),
                created=now,
                period=(now, period_end(now, line.price)),
                latest_invoice=invoice,
                first_invoice=invoice,
            )
            self.subscriptions[sub.id] = sub
            session.update(subscription=sub.id, invoice=invoice)
        else:
            session["setup_intent"] = new_id("seti")
        return new_event("checkout.session.completed", session, created=created)

    def refund(
        self, session_id: str, amount: int | None = None, *, created: int | None = None
    ) -> Resource:
        """Refund ``amount`` (by default all that is left) of a completed payment-mode
        session's charge. Returns ``charge.refunded``: ``amount_refunded`` counts every
        refund so far, ``refunded`` is true once it is all, ``metadata`` is the session's
        ``payment_intent_data[metadata]``."""
        stored = self.sessions[session_id]
        session, charge_id = stored.resource, stored.charge
        if charge_id is None:
            raise ValueError(f"{session_id} has no charge: complete a payment-mode session")
        total, before = session["amount_total"], sum(r["amount"] for r in stored.refunds)
        amount = total - before if amount is None else amount
        if not 0 < amount <= total - before:
            raise ValueError(f"cannot refund {amount}: {before} of {total} refunded already")
        charge = template("charge.refunded")
        shared = {"currency": session["currency"], "payment_intent": session["payment_intent"]}
        refund = charge["refunds"]["data"][0] | shared | {"id": new_id("re"), "amount": amount}
        stored.refunds.insert(0, refund | {"charge": charge_id, "created": int(time.time())})
        refunds = {"data": stored.refunds, "total_count": len(stored.refunds)}
        charge |= shared | {
            "id": charge_id,
            "amount": total,
            "amount_captured": total,
            "amount_refunded": before + amount,
            "customer": session["customer"],
            "metadata": dict(stored.payment_metadata),
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
            "refunded": before + amount == total,
            "refunds": charge["refunds"] | refunds | {"url": f"/v1/charges/{charge_id}/refunds"},
        }
        previous = {"amount_refunded": before, "refunded": False}
        return new_event("charge.refunded", charge, previous=previous, created=created)

    def invoice_paid(
        self, subscription_id: str, period_start: int | None = None, *, created: int | None = None
    ) -> Resource:
        """An invoice of the subscription was paid. The first is the one the Checkout
        payment paid (``subscription_create``, for the current period); each later one a
        renewal (``subscription_cycle``) for the next period. ``period_start`` sets the
        period instead. Returns ``invoice.paid``, naming the subscription both in
        ``subscription`` and, as newer API versions do, in ``parent.subscription_details``
        with its metadata."""
        sub = self.subscriptions[subscription_id]
        reason = "subscription_create" if sub.first_invoice else "subscription_cycle"
        invoice_id = sub.first_invoice or new_id("in")
        if reason == "subscription_cycle" or period_start is not None:
            start = sub.period[1] if period_start is None else period_start
            sub.period = (start, period_end(start, sub.line.price))
        sub.first_invoice, sub.latest_invoice = None, invoice_id
        price, amount, now = sub.line.price, sub.line.amount, int(time.time())
        invoice = template("invoice.paid")
        line = invoice["lines"]["data"][0] | {
            "id": new_id("il"),
            "amount": amount,
            "currency": price.currency,
            "description": f"{sub.line.quantity} × {price.name}",
            "invoice_item": None,
            "metadata": dict(sub.metadata),
            "period": {"start": sub.period[0], "end": sub.period[1]},
            "price": price.resource(),
            "quantity": sub.line.quantity,
            "subscription": sub.id,
            "subscription_item": sub.item_id,
            "type": "subscription",
        }
        details = {"metadata": dict(sub.metadata), "subscription": sub.id}
        invoice |= {
            "id": invoice_id,
            "amount_due": amount,
            "amount_paid": amount,
            "billing_reason": reason,
            "charge": new_id("ch"),
            "created": now,
            "currency": price.currency,
            "customer": sub.customer,
            "lines": invoice["lines"] | {"data": [line], "url": f"/v1/invoices/{invoice_id}/lines"},
            "parent": {"type": "subscription_details", "subscription_details": details},
            "payment_intent": new_id("pi"),
            "period_start": sub.period[0],
            "period_end": sub.period[1],
            "status_transitions": invoice["status_transitions"] | {"paid_at": now},
            "subscription": sub.id,
            "subtotal": amount,
            "total": amount,
        }
        return new_event("invoice.paid", invoice, created=created)

    def subscription_event(
        self,
        subscription_id: str,
        type: str,
        status: str | None = None,
        *,
        created: int | None = None,
    ) -> Resource:
        """``customer.subscription.created``, ``.updated`` or ``.deleted`` (or just
        ``created``, ...) for the subscription, which is now in ``status``: by default
        ``canceled`` for ``deleted`` and unchanged (``active`` at first) otherwise. An
        update that changes the status carries the old one in ``previous_attributes``."""
        kind = type.removeprefix("customer.subscription.")
        if kind not in ("created", "updated", "deleted"):
            raise ValueError(f"{type!r} is not a customer.subscription event")
        sub = self.subscriptions[subscription_id]
        status = status or ("canceled" if kind == "deleted" else sub.status)
        changed = kind == "updated" and status != sub.status
        previous = {"status": sub.status} if changed else None
        sub.status = status
        ended = int(time.time()) if status == "canceled" else None
        price, obj = sub.line.price, template(f"customer.subscription.{kind}")
        shared = {  # on the item too, where newer API versions read the period
            "created": sub.created,
            "current_period_start": sub.period[0],
            "current_period_end": sub.period[1],
            "plan": price.plan(),
            "quantity": sub.line.quantity,
        }
        item = obj["items"]["data"][0] | shared
        item.update(id=sub.item_id, price=price.resource(), subscription=sub.id)
        items = {"data": [item], "url": f"/v1/subscription_items?subscription={sub.id}"}
        obj.update(shared)
        obj.update(
            id=sub.id,
            billing_cycle_anchor=sub.created,
            canceled_at=ended,
            customer=sub.customer,
            ended_at=ended,
            items=obj["items"] | items,
            latest_invoice=sub.latest_invoice,
            metadata=dict(sub.metadata),
            schedule=None,
            start_date=sub.created,
            status=status,
        )
        name = f"customer.subscription.{kind}"
        return new_event(name, obj, previous=previous, created=created)

    def payment_failed(self, session_id: str, *, created: int | None = None) -> Resource:
        """A card was declined on a payment-mode session's Checkout page: its
        PaymentIntent (made now if it has none; :meth:`complete` keeps it) is back to
        ``requires_payment_method``. Returns ``payment_intent.payment_failed`` with the
        session's ``payment_intent_data[metadata]``."""
        stored = self.sessions[session_id]
        session = stored.resource
        if session["mode"] != "payment":
            raise ValueError(f"{session_id} is a {session['mode']} session, not payment")
        intent = session["payment_intent"] = session["payment_intent"] or new_id("pi")
        obj = template("payment_intent.succeeded")
        obj |= {
            "id": intent,
            "amount": session["amount_total"],
            "amount_received": 0,
            "charges": obj["charges"] | {"data": [], "total_count": 0},
            "client_secret": f"{intent}_secret_{new_id('', 25)[1:]}",
            "created": int(time.time()),
            "currency": session["currency"],
            "customer": session["customer"],
            "last_payment_error": {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "type": "card_error",
            },
            "metadata": dict(stored.payment_metadata),
            "status": "requires_payment_method",
        }
        name, fixture = "payment_intent.payment_failed", "payment_intent.succeeded"
        return new_event(name, obj, fixture=fixture, created=created)

    # -- HTTP -----------------------------------------------------------------------

    def _route(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap ``handler`` in what every request goes through: decoding, the API key,
        injected faults, idempotency, the record, Stripe's response headers."""

        async def serve(request: web.Request) -> web.Response:
            params: dict[str, Any] = {}
            replayed = False
            try:
                pairs = await request.post() if request.method == "POST" else request.query
                try:
                    params = decode_form((k, str(v)) for k, v in pairs.items())
                except ValueError as error:
                    raise invalid(f"Invalid parameters: {error}") from None
                status, body, replayed = await self._answer(request, handler, params)
            except StripeError as error:
                status, body = error.status, error.body()
            call = Call(
                request.method, request.path, params, request.headers, status, body, replayed
            )
            self.requests.append(call)
            headers = {"Request-Id": new_id("req", 14)}
            if call.idempotency_key:
                headers["Idempotency-Key"] = call.idempotency_key
            if replayed:
                headers["Idempotent-Replayed"] = "true"
            if status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="Stripe"'
            return web.json_response(body, status=status, headers=headers)

        return serve

    async def _answer(
        self, request: web.Request, handler: Handler, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], bool]:
        """Status, body and whether it is a replay, or a :class:`StripeError`."""
        scheme, _, api_key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not secrets.compare_digest(
            api_key.encode(), self.secret_key.encode()
        ):
            raise unauthorized(api_key)
        for fault in self._faults:
            if fault.take():
                if fault.status is None:
                    await self._released.wait()
                message = "An unknown error occurred while processing your request."
                raise StripeError(fault.status or 503, "api_error", message)
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key is None:
            return 200, await handler(request, params), False
        stored = self._idempotent.get((api_key, key))
        if stored is not None:
            if (stored.path, stored.params) != (request.path, params):
                raise idempotency_mismatch(key)
            return stored.status, stored.response, True
        body = await handler(request, params)
        call = Call(request.method, request.path, params, request.headers, 200, body)
        self._idempotent[api_key, key] = call
        return 200, body, False

    async def _create_session(self, request: web.Request, params: dict[str, Any]) -> Resource:
        lines = checked_lines(params, self.prices)
        session = checkout_session(params, lines)
        self.sessions[session["id"]] = StoredSession(
            session,
            lines,
            dict(params.get("payment_intent_data", {}).get("metadata", {})),
            dict(params.get("subscription_data", {}).get("metadata", {})),
        )
        return copy.deepcopy(session)

    async def _retrieve_session(self, request: web.Request, params: dict[str, Any]) -> Resource:
        session_id = request.match_info["id"]
        if session_id not in self.sessions:
            raise not_found("checkout.session", session_id)
        return copy.deepcopy(self.sessions[session_id].resource)

    async def _unknown(self, request: web.Request, params: dict[str, Any]) -> Resource:
        message = f"Unrecognized request URL ({request.method}: {request.path})."
        raise StripeError(404, "invalid_request_error", message)

    async def _release(self, app: web.Application) -> None:
        """Let hanging requests end, so the server shuts down at once."""
        self._released.set()
