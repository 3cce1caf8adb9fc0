"""A realistic demo shop: two years of orders for about 2,000 customers, drawn like real buyers.

Each registered customer signs up at some point in the history and then buys at their own rate
until they drop out (the BG/NBD process that ``bench/synthetic.py`` also draws from): most buy
once or twice, a few come back every month, many have lapsed. Around them: customers who never
ordered, guest orders with only an email, baskets from six product types (each customer leans
to one), a quarter of orders discounted with a code, some cancelled, some partly refunded.
Deterministic for a given seed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from demo.standins.shopify_history import ShopHistory

HISTORY_DAYS = 730
FIRST_CUSTOMER_ID = 8_100_000_001
FIRST_ORDER_ID = 6_100_000_001
PRODUCT_TYPES = {  # product type: (weight, typical unit price)
    "Coffee": (5.0, 18), "Tea": (3.0, 14), "Mugs": (2.0, 22), "Brewing Gear": (1.5, 65),
    "Chocolate": (2.5, 9), "Gift Cards": (1.0, 50)}
DISCOUNT_CODES = ("WELCOME10", "SPRING15", "VIP20", "BFCM25")
VENDORS = ("North Roast", "Harbor & Co", "Juniper Works")
FIRST_NAMES = ("ada", "ben", "chloe", "dev", "elena", "farid", "grace", "hiro", "ines", "jonas",
               "kim", "luca", "maya", "nils", "olga", "priya", "quinn", "rosa", "sami", "tara")
LAST_NAMES = ("novak", "okafor", "schmidt", "tanaka", "garcia", "larsen", "moreau", "rossi",
              "kowalski", "silva", "nguyen", "brown", "fischer", "haddad", "ivanova", "jensen")
NEVER_ORDERED_SHARE = 0.12
GUEST_ORDER_SHARE = 0.06
DISCOUNTED_SHARE = 0.25
CANCELLED_SHARE = 0.015
REFUNDED_SHARE = 0.04


def email_of(number: int) -> str:
    """A readable, unique address for customer ``number``."""
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    last = LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return f"{first}.{last}{number}@example.com"


def populate(history: ShopHistory, n_customers: int, now: datetime, seed: int = 15) -> int:
    """Fill ``history`` with customers and two years of orders ending at ``now``; return the
    number of orders."""
    rng = random.Random(seed)
    start = now - timedelta(days=HISTORY_DAYS)
    types = list(PRODUCT_TYPES)
    weights = [weight for weight, _ in PRODUCT_TYPES.values()]
    orders: list[tuple[datetime, int | None, str | None]] = []
    for number in range(n_customers):
        customer_id = FIRST_CUSTOMER_ID + number
        signed_up = start + timedelta(days=rng.uniform(0, HISTORY_DAYS - 1))
        history.add_customer(customer_id, email_of(number), signed_up, rng.random() < 0.55)
        if rng.random() < NEVER_ORDERED_SHARE:
            continue
        orders.extend((when, customer_id, None) for when in _purchase_times(rng, signed_up, now))
    guests = int(len(orders) * GUEST_ORDER_SHARE)
    orders.extend((start + timedelta(days=rng.uniform(0, HISTORY_DAYS)), None,
                   f"guest{g}@example.net") for g in range(guests))
    favourite: dict[int, str] = {}
    for offset, (created, customer_id, guest_email) in enumerate(sorted(
            orders, key=lambda o: o[0])):
        liked = favourite.setdefault(customer_id or 0, rng.choices(types, weights)[0])
        lines = []
        for _ in range(1 + min(3, int(rng.expovariate(1.2)))):
            product_type = liked if rng.random() < 0.6 else rng.choices(types, weights)[0]
            price = Decimal(PRODUCT_TYPES[product_type][1] * rng.uniform(0.7, 1.5))
            lines.append((product_type, rng.choice((1, 1, 1, 2, 3)), price.quantize(Decimal(1))))
        subtotal = sum(q * p for _, q, p in lines)
        discounted = rng.random() < DISCOUNTED_SHARE
        discount = (subtotal * Decimal(rng.choice((10, 15, 20, 25))) / 100).quantize(
            Decimal("0.01")) if discounted else Decimal(0)
        cancelled = rng.random() < CANCELLED_SHARE
        refunded = (subtotal * Decimal("0.3")).quantize(Decimal("0.01")) \
            if not cancelled and rng.random() < REFUNDED_SHARE else Decimal(0)
        history.add_order(FIRST_ORDER_ID + offset, customer_id, created, lines,
                          email=guest_email, cancelled=cancelled, refunded=refunded,
                          discount=discount, discount_code=rng.choice(DISCOUNT_CODES),
                          vendor=rng.choice(VENDORS))
    return len(orders)


def _purchase_times(rng: random.Random, signed_up: datetime, now: datetime) -> list[datetime]:
    """The customer's orders: a first one soon after signing up, then repeats at their own
    rate until they drop out (after any order, with their own probability)."""
    days_between = rng.gammavariate(0.9, 80.0) + 7  # a few monthly regulars, mostly slower
    dropout = rng.betavariate(1.2, 2.0)
    when = signed_up + timedelta(hours=rng.uniform(0, 72))
    times = []
    while when < now:
        times.append(when)
        if rng.random() < dropout:
            break
        when += timedelta(days=rng.expovariate(1 / days_between))
    return times
