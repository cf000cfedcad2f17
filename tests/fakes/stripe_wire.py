"""Stripe's wire format for the fake Stripe server: its records, errors, form decoding,
resource shapes and webhook signatures.

Plain data the fake keeps (each answered request as a :class:`Call`, an injected
:class:`Fault`, a :class:`Price` and a Checkout Session's :class:`LineItem`), the error
answer (:class:`StripeError`, with :func:`invalid`, :func:`unauthorized` and
:func:`not_found`), and pure functions: :func:`decode_form` reads Stripe's bracket
notation (``line_items[0][price_data][currency]=eur``), :func:`checked_lines` and
:func:`checkout_session` check and shape a session the way the API does,
:func:`new_event` wraps an object in an Event, and :func:`sign`/:func:`signed` produce the
real ``Stripe-Signature`` header. Resources start from the Stripe CLI fixtures in
:data:`FIXTURES`, so fields the fake does not model keep realistic values. Nothing here
holds server state; :mod:`tests.fakes.stripe_api` does.
"""

from __future__ import annotations

import calendar
import copy
import functools
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stripe import RequestOptions
from stripe.params.checkout import SessionCreateParams

SECRET_KEY = "sk_test_chorus"
WEBHOOK_SECRET = "whsec_chorus_test"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "data" / "stripe"
CHECKOUT_URL = "https://checkout.stripe.test/c/pay/"
SESSION_LIFETIME = 24 * 3600
MODES = ("payment", "subscription", "setup")
INTERVALS = ("day", "week", "month", "year")
# the parameters Stripe knows, from the SDK's own types (request options are not params)
_SESSION_PARAMS = frozenset(SessionCreateParams.__annotations__) - set(
    RequestOptions.__annotations__
)
_LINE_PARAMS = frozenset(
    {"adjustable_quantity", "metadata", "price", "price_data", "quantity", "tax_rates"}
)
_PRICE_DATA_PARAMS = frozenset(
    {"currency", "product", "product_data", "recurring", "tax_behavior", "unit_amount"}
    | {"unit_amount_decimal"}
)
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(slots=True)
class StripeError(Exception):
    """An error answer: HTTP ``status`` and Stripe's error ``type``, ``message`` and, when
    it names them, the ``param`` at fault and a ``code``."""

    status: int
    type: str
    message: str
    param: str | None = None
    code: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON Stripe answers (the SDK raises the matching ``stripe.StripeError``)."""
        error = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        return {"error": error}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 for parameters Stripe refuses."""
    return StripeError(400, "invalid_request_error", message, param, code)


def unauthorized(api_key: str) -> StripeError:
    """The 401 for a missing or wrong secret key (shown masked, as Stripe does)."""
    if not api_key:
        return StripeError(401, "invalid_request_error", "You did not provide an API key.")
    masked = api_key[:8] + "*" * max(len(api_key) - 12, 0) + api_key[-4:]
    return StripeError(401, "invalid_request_error", f"Invalid API Key provided: {masked}")


def idempotency_mismatch(key: str) -> StripeError:
    """The 400 for an idempotency key used again with other parameters."""
    return StripeError(
        400,
        "idempotency_error",
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{key}' if you meant to execute a "
        "different request.",
    )


def not_found(kind: str, id: str) -> StripeError:
    """The 404 for an unknown object id."""
    message = f"No such {kind}: '{id}'"
    return StripeError(404, "invalid_request_error", message, "id", "resource_missing")


@dataclass(frozen=True, slots=True)
class Call:
    """One request: method, path, its parameters decoded into nested dicts and lists,
    its headers as sent, and what was answered (``replayed`` for an idempotent replay)."""

    method: str
    path: str
    params: dict[str, Any]
    headers: Mapping[str, str]
    status: int
    response: dict[str, Any]
    replayed: bool = False

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass(slots=True)
class Fault:
    """Answer the next ``remaining`` requests with ``status`` (an ``api_error``), or, if
    ``status`` is ``None``, not at all until the server closes."""

    remaining: int
    status: int | None

    def take(self) -> bool:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass(frozen=True, slots=True)
class Price:
    """A Price: an amount in the currency's smallest unit, for a product, paid once or
    every ``interval_count`` ``interval`` (day, week, month, year)."""

    id: str
    product: str
    name: str
    currency: str
    unit_amount: int
    interval: str | None = None
    interval_count: int = 1

    def resource(self) -> dict[str, Any]:
        """The Price object, as embedded in subscription items and invoice lines."""
        item = template("customer.subscription.created")["items"]["data"][0]
        price: dict[str, Any] = item["price"]
        recurring = price["recurring"] | {
            "interval": self.interval,
            "interval_count": self.interval_count,
        }
        return price | {
            "id": self.id,
            "created": int(time.time()),
            "currency": self.currency,
            "product": self.product,
            "recurring": recurring if self.interval else None,
            "type": "recurring" if self.interval else "one_time",
            "unit_amount": self.unit_amount,
            "unit_amount_decimal": str(self.unit_amount),
        }

    def plan(self) -> dict[str, Any]:
        """The legacy Plan object subscriptions still carry next to the Price."""
        plan: dict[str, Any] = template("customer.subscription.created")["plan"]
        return plan | {
            "id": self.id,
            "amount": self.unit_amount,
            "amount_decimal": str(self.unit_amount),
            "created": int(time.time()),
            "currency": self.currency,
            "interval": self.interval,
            "interval_count": self.interval_count,
            "product": self.product,
        }


@dataclass(frozen=True, slots=True)
class LineItem:
    """One line of a Checkout Session: a price and how many."""

    price: Price
    quantity: int

    @property
    def amount(self) -> int:
        return self.price.unit_amount * self.quantity


def new_id(prefix: str, length: int = 24) -> str:
    """A fresh Stripe id: ``prefix_`` and random letters and digits."""
    return prefix + "_" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracket notation as nested values: ``a[b][0][c]=x`` becomes
    ``{"a": {"b": [{"c": "x"}]}}``. Values stay strings; a key used both as a value and
    as a hash, or a list with a gap in its indexes, is a ``ValueError``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.fullmatch(key)
        path = [match[1], *re.findall(r"\[([^\]]*)\]", match[2])] if match else [key]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {part} is both a value and a hash")
        if isinstance(node.get(path[-1]), dict):
            raise ValueError(f"{key}: {path[-1]} is both a value and a hash")
        node[path[-1]] = value
    return {key: _listed(value, key) for key, value in root.items()}


def _listed(value: Any, parent: str = "") -> Any:
    """Hashes keyed 0..n-1 become lists (but metadata keys are always a hash)."""
    if not isinstance(value, dict):
        return value
    value = {k: _listed(v, k) for k, v in value.items()}
    indexes = sorted(int(k) for k in value if k.isdigit())
    if parent == "metadata" or not value or len(indexes) != len(value):
        return value
    if indexes != list(range(len(indexes))):
        raise ValueError(f"{parent}: list indexes {indexes} have gaps")
    return [value[str(i)] for i in indexes]


def _integer(value: Any, param: str, minimum: int) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise invalid(f"Invalid integer: {value}", param)
    if int(value) < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", param)
    return int(value)


def _hash(params: dict[str, Any], key: str, param: str | None = None) -> dict[str, Any]:
    value = params.get(key, {})
    if not isinstance(value, dict):
        raise invalid("Invalid object", param or key)
    return value


def _known(params: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            raise invalid(f"Received unknown parameter: {prefix}{key}", f"{prefix}{key}")


def checked_lines(params: dict[str, Any], prices: Mapping[str, Price]) -> list[LineItem]:
    """The session's line items, or the error Stripe answers for its parameters (mode,
    URLs, prices, quantities, recurring prices in the right mode). ``prices`` are the
    Prices a line may name by id; ``price_data`` makes a new one."""
    _known(params, _SESSION_PARAMS)
    mode = params.get("mode")
    if not mode:
        raise invalid("Missing required param: mode.", "mode", "parameter_missing")
    if mode not in MODES:
        raise invalid(f"Invalid mode: must be one of {', '.join(MODES)}", "mode")
    if not params.get("success_url"):
        raise invalid("Missing required param: success_url.", "success_url", "parameter_missing")
    raw = params.get("line_items", [])
    if mode != "setup" and not raw:
        raise invalid(
            f"line_items is required in `{mode}` mode.", "line_items", "parameter_missing"
        )
    if not isinstance(raw, list):
        raise invalid("Invalid array", "line_items")
    lines = [_line(item, f"line_items[{i}]", prices) for i, item in enumerate(raw)]
    if len({line.price.currency for line in lines}) > 1:
        raise invalid("All line items must use the same currency.", "line_items")
    recurring = [line for line in lines if line.price.interval]
    if mode == "subscription" and not recurring:
        raise invalid(
            "You must provide at least one recurring price in `subscription` mode when "
            "using prices.",
            "line_items",
        )
    if mode == "payment" and recurring:
        raise invalid(
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
            "line_items",
        )
    _hash(params, "metadata")
    for key in ("payment_intent_data", "subscription_data"):
        _hash(_hash(params, key), "metadata", f"{key}[metadata]")
    if "expires_at" in params:
        _integer(params["expires_at"], "expires_at", int(time.time()) + 1800)
    return lines


def _line(item: Any, at: str, prices: Mapping[str, Price]) -> LineItem:
    if not isinstance(item, dict):
        raise invalid("Invalid object", at)
    _known(item, _LINE_PARAMS, f"{at}[")
    if "quantity" not in item:
        raise invalid(f"Missing required param: {at}[quantity].", f"{at}[quantity]")
    quantity = _integer(item["quantity"], f"{at}[quantity]", 1)
    if "price" in item:
        price = prices.get(item["price"])
        if price is None:
            raise invalid(f"No such price: '{item['price']}'", f"{at}[price]", "resource_missing")
        return LineItem(price, quantity)
    data = item.get("price_data")
    if not isinstance(data, dict):
        raise invalid(
            f"You must specify either `price` or `price_data` in {at}.", at, "parameter_missing"
        )
    at = f"{at}[price_data]"
    _known(data, _PRICE_DATA_PARAMS, f"{at}[")
    for required in ("currency", "unit_amount"):
        if required not in data:
            param = f"{at}[{required}]"
            raise invalid(f"Missing required param: {param}.", param, "parameter_missing")
    currency = data["currency"]
    if not isinstance(currency, str) or not re.fullmatch(r"[a-zA-Z]{3}", currency):
        raise invalid(f"Invalid currency: {currency}.", f"{at}[currency]")
    name = _hash(data, "product_data", f"{at}[product_data]").get("name")
    if not isinstance(name, str) or not name:
        param = f"{at}[product_data][name]"
        raise invalid(f"Missing required param: {param}.", param, "parameter_missing")
    recurring = _hash(data, "recurring", f"{at}[recurring]")
    interval = recurring.get("interval")
    if recurring and interval not in INTERVALS:
        param = f"{at}[recurring][interval]"
        raise invalid(f"Invalid {param}: must be one of {', '.join(INTERVALS)}", param)
    count = recurring.get("interval_count", "1")
    price = Price(
        id=new_id("price"),
        product=new_id("prod", 14),
        name=name,
        currency=currency.lower(),
        unit_amount=_integer(data["unit_amount"], f"{at}[unit_amount]", 0),
        interval=interval,
        interval_count=_integer(count, f"{at}[recurring][interval_count]", 1),
    )
    return LineItem(price, quantity)


def checkout_session(params: dict[str, Any], lines: list[LineItem]) -> dict[str, Any]:
    """A Checkout Session just created from checked ``params``: ``open`` and ``unpaid``,
    line items not expanded, expiring after 24 hours unless ``expires_at`` says sooner."""
    session_id = new_id("cs_test", 58)
    created = int(time.time())
    expires_at = params.get("expires_at")
    amount = sum(line.amount for line in lines) if lines else None
    return template("checkout.session.completed") | {
        "id": session_id,
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "created": created,
        "currency": lines[0].price.currency if lines else params.get("currency"),
        "customer": params.get("customer"),
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "expires_at": int(expires_at) if expires_at else created + SESSION_LIFETIME,
        "invoice": None,
        "metadata": dict(params.get("metadata", {})),
        "mode": params["mode"],
        "payment_intent": None,
        "payment_status": "no_payment_required" if params["mode"] == "setup" else "unpaid",
        "status": "open",
        "success_url": params["success_url"],
        "ui_mode": "hosted",
        "url": CHECKOUT_URL + session_id,
    }


@functools.cache
def load_fixture(name: str) -> dict[str, Any]:
    """A Stripe CLI webhook fixture (``charge.refunded``, ``invoice.paid``, ...) as
    stored; the answer is shared, so copy it before changing it."""
    path = FIXTURES / (name if name.endswith(".json") else f"{name}.json")
    fixture: dict[str, Any] = json.loads(path.read_text())
    return fixture


def template(name: str) -> dict[str, Any]:
    """A fresh copy of the object inside fixture ``name``, to fill in."""
    obj: dict[str, Any] = copy.deepcopy(load_fixture(name)["data"]["object"])
    return obj


def new_event(
    type: str,
    obj: dict[str, Any],
    *,
    fixture: str | None = None,
    previous: dict[str, Any] | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """An Event of ``type`` around a copy of ``obj``, in the envelope of fixture
    ``fixture`` (default: the one named ``type``): its ``api_version``, a fresh id, not
    caused by an API request (as when a customer pays on the Checkout page)."""
    envelope = copy.deepcopy(load_fixture(fixture or type))
    data: dict[str, Any] = {"object": copy.deepcopy(obj)}
    if previous is not None:
        data["previous_attributes"] = previous
    return envelope | {
        "id": new_id("evt"),
        "object": "event",
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """``Stripe-Signature``: ``t=<unix time>,v1=<hex HMAC-SHA256>`` keyed with the
    endpoint's whole ``whsec_`` secret, of ``"<t>."`` followed by the raw body."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def signed(
    event: dict[str, Any], secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Stripe's webhook POST delivering ``event``."""
    body = json.dumps(event, indent=2).encode()
    return body, {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": sign(body, secret, timestamp),
    }


def period_end(start: int, price: Price) -> int:
    """The end of a billing period of ``price`` starting at ``start``: whole calendar
    months and years, as Stripe bills them (31 January + 1 month is 28/29 February)."""
    count = price.interval_count
    if price.interval in ("day", "week"):
        return start + count * (7 if price.interval == "week" else 1) * 86400
    day = datetime.fromtimestamp(start, UTC)
    months = day.month - 1 + count * (12 if price.interval == "year" else 1)
    year, month = day.year + months // 12, months % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return int(day.replace(year=year, month=month, day=min(day.day, last)).timestamp())
