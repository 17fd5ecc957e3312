"""Orders and what happens to them: payment, shipping, parcel tracking, refunds and product reviews."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from kefu.demo.catalogue import Product, Shop, Sku
from kefu.demo.draw import between, cumulative, pick, skewed
from kefu.demo.order_texts import LOGISTICS, NO_TEXT_REVIEW, PRE_SHIPMENT_REASONS, REFUND_REASONS, REVIEWS
from kefu.demo.people import CITY_BY_SHORT, Buyer, City, delivery_days
from kefu.demo.timeline import DAY, HOUR, Timeline

CENT = Decimal("0.01")
UNPAID_SHARE = 0.18  # orders placed but never paid
GENERIC_REFUND_SHARE = 0.05  # paid orders refunded without anyone chatting about it first
REVIEW_SHARE = 0.3
TRACKING_PREFIX = {
    "中通": "78",
    "圆通": "YT",
    "顺丰": "SF",
    "韵达": "43",
    "申通": "77",
    "EMS": "11",
    "极兔": "JT",
}
REMOTE_PROVINCES = ("新疆维吾尔自治区", "甘肃省", "黑龙江省")


@dataclass(slots=True)
class Item:
    """One line of an order."""

    product: Product
    sku: str
    qty: int
    price: Decimal


@dataclass(slots=True, eq=False)
class Refund:
    """A buyer's refund request and how it ended."""

    order: Order
    product: Product | None
    reason: str
    amount: Decimal
    requested: int
    completed: int | None
    status: str


@dataclass(slots=True, eq=False)
class Order:
    """An order with its whole life, in seconds since the period started (None: did not happen)."""

    order_id: str
    shop: Shop
    buyer: Buyer
    created: int
    items: list[Item]
    amount: Decimal
    address: str
    paid: int | None = None
    cancelled: bool = False
    ship: int | None = None
    deliver: int | None = None
    complete: int | None = None
    exception: int | None = None
    hub: str = ""
    courier: str = ""
    tracking: str = ""
    trouble: bool = False  # the buyer had a problem with it (shapes the review)
    refunds: list[Refund] = field(default_factory=list)


class Ledger:
    """All orders of the demo and the rules by which they move from placed to completed."""

    def __init__(self, rng: random.Random, clock: Timeline, shops: list[Shop]) -> None:
        self.rng = rng
        self.clock = clock
        self.orders: list[Order] = []
        self.refunds: list[Refund] = []
        self.origins = {s.index: CITY_BY_SHORT[s.origin] for s in shops}
        self._days: dict[tuple[int, str], int] = {}
        self._reasons = {
            cat: ([r for r, _ in pool], cumulative([w for _, w in pool]))
            for cat, pool in REFUND_REASONS.items()
        }

    # --- placing and paying ---------------------------------------------------------------------------
    def open(
        self,
        shop: Shop,
        buyer: Buyer,
        created: int,
        product: Product,
        sku: Sku,
        *,
        qty: int | None = None,
        coupon: int = 0,
    ) -> Order:
        """Place an order for the product (sometimes with a second one added), with any discount."""
        rng = self.rng
        if qty is None:
            r = rng.random()
            qty = 1 if r < 0.8 else 2 if r < 0.95 else 3
        items = [Item(product, sku.label, qty, sku.price)]
        if rng.random() < 0.22 and len(shop.products) > 1:
            # A matching second product recommended in the chat or picked from the "also bought" row.
            other = shop.products[int(rng.random() * len(shop.products))]
            if other is not product:
                osku = other.skus[int(rng.random() * len(other.skus))]
                items.append(Item(other, osku.label, 1, osku.price))
        subtotal = sum((i.price * i.qty for i in items), Decimal("0"))
        discount = Decimal(coupon)
        if not coupon and rng.random() < 0.25:
            discount = Decimal(30 if subtotal >= 300 else 15 if subtotal >= 150 else 5)
        amount = max(CENT, (subtotal - discount).quantize(CENT))
        order = Order(f"o{len(self.orders) + 1:07d}", shop, buyer, created, items, amount, buyer.address)
        self.orders.append(order)
        return order

    def pay(self, order: Order, t: int) -> None:
        """Record the payment, unless it would fall after the period."""
        if t < self.clock.end:
            order.paid = t

    def run_course(self, order: Order) -> None:
        """An ordinary order: paid within minutes (or never), shipped, delivered, sometimes refunded."""
        rng = self.rng
        if rng.random() < UNPAID_SHARE:
            order.cancelled = rng.random() < 0.45
            return
        self.pay(order, order.created + skewed(rng, 15, 2400))
        if order.paid is None:
            return
        self.dispatch(order)
        if rng.random() < GENERIC_REFUND_SHARE:
            self.generic_refund(order)

    def dispatch(self, order: Order, ship: int | None = None, *, exception: bool | None = None) -> None:
        """Plan shipping and delivery after payment (times past the period's end simply don't show)."""
        rng = self.rng
        assert order.paid is not None
        if ship is None:
            r = rng.random()
            delay = (
                skewed(rng, 2 * HOUR, 8 * HOUR)
                if r < 0.6
                else between(rng, 8 * HOUR, 30 * HOUR)
                if r < 0.92
                else between(rng, 30 * HOUR, 70 * HOUR)
            )
            if self.clock.is_peak(order.paid):
                delay += between(rng, 12 * HOUR, 60 * HOUR)  # the warehouse backlog after the promotion
            ship = order.paid + delay
        order.ship = ship
        self._courier(order)
        days = self.transit_days(order)
        extra = 0
        if exception is None:
            exception = rng.random() < 0.04
        if exception:
            order.exception = ship + between(rng, 14 * HOUR, max(15 * HOUR, days * DAY))
            order.hub = self.hub(order)
            extra = between(rng, DAY, 3 * DAY)
        order.deliver = self._daytime(ship + days * DAY + extra, ship + 12 * HOUR)
        order.complete = order.deliver + (between(rng, DAY, 9 * DAY) if rng.random() < 0.8 else 10 * DAY)

    def backdate(self, order: Order, deliver: int) -> None:
        """Make an order that was delivered at the given time, working backwards to when it was placed."""
        rng = self.rng
        order.deliver = deliver
        self._courier(order)
        order.ship = deliver - self.transit_days(order) * DAY - between(rng, 2 * HOUR, 10 * HOUR)
        order.paid = order.ship - between(rng, 2 * HOUR, 30 * HOUR)
        order.created = order.paid - skewed(rng, 20, 900)
        order.complete = deliver + (between(rng, DAY, 9 * DAY) if rng.random() < 0.8 else 10 * DAY)

    def transit_days(self, order: Order) -> int:
        """Days the order's parcel is on the road from the shop's warehouse to the buyer's city."""
        return self.transit_days_to(order.shop, order.buyer)

    def transit_days_to(self, shop: Shop, buyer: Buyer) -> int:
        """Days a parcel from the shop's warehouse takes to the buyer's city."""
        key = (shop.index, buyer.city.name)
        days = self._days.get(key)
        if days is None:
            days = self._days[key] = delivery_days(self.origins[shop.index], buyer.city)
        return days

    def _courier(self, order: Order) -> None:
        rng = self.rng
        courier = order.shop.courier
        if order.buyer.city.province in REMOTE_PROVINCES and rng.random() < 0.6:
            courier = "EMS"
        elif rng.random() < 0.06:
            courier = rng.choice(("顺丰", "申通", "极兔"))
        order.courier = courier
        order.tracking = TRACKING_PREFIX[courier] + str(rng.randrange(10**12, 10**13))

    def hub(self, order: Order) -> str:
        """The sorting hub a parcel gets held up at: the sending or the receiving end."""
        return self.origins[order.shop.index].hub if self.rng.random() < 0.5 else order.buyer.city.hub

    def _daytime(self, t: int, not_before: int) -> int:
        """Move a delivery to working hours (9:00-20:00) of its day, and never before not_before."""
        t = t // DAY * DAY + between(self.rng, 9 * HOUR, 20 * HOUR)
        while t < not_before:
            t += DAY
        return t

    # --- refunds --------------------------------------------------------------------------------------
    def buyer_reason(self, category: str) -> str:
        """A refund reason as the category's buyers pick them."""
        names, cum = self._reasons[category]
        return names[pick(self.rng, cum)]

    def refund(
        self,
        order: Order,
        t: int,
        reason: str,
        mode: str,
        *,
        done_at: int | None = None,
        amount: Decimal | None = None,
    ) -> Refund | None:
        """File a refund: full, one unit back ("unit") or a partial compensation ("part", of amount)."""
        rng = self.rng
        end = self.clock.end
        if order.paid is None or t >= end:
            return None
        item = order.items[0]
        pre_ship = order.ship is None or order.ship > t
        if not reason:
            reason = rng.choice(PRE_SHIPMENT_REASONS) if pre_ship else self.buyer_reason(order.shop.category)
        if mode == "full":
            amount = order.amount if len(order.items) == 1 else min(order.amount, item.price * item.qty)
        elif mode == "unit":
            amount = min(order.amount, item.price)
        else:
            if amount is None:
                amount = (item.price * rng.choice((10, 15, 20, 30)) / 100).quantize(CENT)
            amount = min(order.amount, amount.quantize(CENT))
        whole = amount == order.amount
        r = rng.random()
        if pre_ship:
            resolve, status = t + skewed(rng, 300, 6 * HOUR), "completed" if r < 0.9 else "cancelled"
        elif mode == "full":
            # The goods travel back first; the money follows once the warehouse signs for them.
            resolve = t + between(rng, 2 * DAY, 7 * DAY)
            status = "completed" if r < 0.82 else "rejected" if r < 0.9 else "cancelled"
        else:
            resolve = t + skewed(rng, 600, DAY)
            status = "completed" if r < 0.93 else "rejected" if r < 0.96 else "cancelled"
        if done_at is not None:
            resolve, status = done_at, "completed"
        if resolve >= end:
            status = "requested"
        product = None if pre_ship and whole and len(order.items) > 1 else item.product
        refund = Refund(order, product, reason, amount, t, resolve if status == "completed" else None, status)
        order.refunds.append(refund)
        self.refunds.append(refund)
        if status == "completed" and whole and pre_ship:
            # Refunded before it left: the parcel is never sent.
            order.ship = order.deliver = order.complete = order.exception = None
        return refund

    def generic_refund(self, order: Order) -> None:
        """A refund nobody chatted about: cancelled before shipping, or sent back after delivery."""
        rng = self.rng
        reason = self.buyer_reason(order.shop.category)
        assert order.paid is not None and order.ship is not None and order.deliver is not None
        if reason in PRE_SHIPMENT_REASONS or reason == "未按约定时间发货":
            window = order.ship - order.paid
            if window > 20 * 60:
                asked = order.paid + between(rng, 600, min(window - 60, 20 * HOUR))
                self.refund(order, asked, reason, "full")
            return
        mode = "unit" if reason == "少件/漏发" else "part" if reason == "商品破损" else "full"
        order.trouble = reason in ("质量问题", "商品破损", "发错货", "少件/漏发", "与商品描述不符")
        self.refund(order, order.deliver + between(rng, 6 * HOUR, 5 * DAY), reason, mode)

    # --- rows -----------------------------------------------------------------------------------------
    def status(self, order: Order) -> str:
        """The order's state when the period ends."""
        end = self.clock.end
        if order.paid is None:
            return "cancelled" if order.cancelled else "unpaid"
        back = sum((r.amount for r in order.refunds if r.status == "completed"), Decimal("0"))
        if back >= order.amount:
            return "refunded"
        if order.complete is not None and order.complete < end:
            return "completed"
        if order.deliver is not None and order.deliver < end:
            return "delivered"
        if order.ship is not None and order.ship < end:
            return "shipped"
        return "paid"

    def rows(self) -> dict[str, list[dict]]:
        """The orders, order_items, logistics, refunds and reviews tables."""
        rng, at, end = self.rng, self.clock.at, self.clock.end
        orders, items, logistics, reviews = [], [], [], []
        review_stage = []
        for o in sorted(self.orders, key=lambda o: (o.created, o.order_id)):
            status = self.status(o)
            orders.append(
                {
                    "order_id": o.order_id,
                    "shop_id": o.shop.shop_id,
                    "buyer_id": o.buyer.buyer_id,
                    "created_at": at(o.created),
                    "paid_at": at(o.paid) if o.paid is not None else None,
                    "amount": o.amount,
                    "status": status,
                    "address": o.address,
                }
            )
            items.extend(
                {
                    "order_id": o.order_id,
                    "product_id": i.product.product_id,
                    "sku": i.sku,
                    "quantity": i.qty,
                    "unit_price": i.price,
                }
                for i in o.items
            )
            if o.ship is not None and o.ship < end:
                logistics.extend(self._events(o))
            if status in ("delivered", "completed") and o.deliver is not None:
                review_stage.append(o)
        for o in review_stage:
            if rng.random() < (0.35 if o.trouble else REVIEW_SHARE):
                assert o.deliver is not None
                created = o.deliver + between(rng, 6 * HOUR, 6 * DAY)
                if created < end:
                    reviews.extend(self._reviews(o, created))
        reviews.sort(key=lambda r: (r["created_at"], r["order_id"]))
        for n, r in enumerate(reviews, start=1):
            r["review_id"] = f"rv{n:07d}"
            r["created_at"] = at(r["created_at"])
        refunds = []
        for n, f in enumerate(sorted(self.refunds, key=lambda f: (f.requested, f.order.order_id)), start=1):
            refunds.append(
                {
                    "refund_id": f"rf{n:07d}",
                    "order_id": f.order.order_id,
                    "product_id": f.product.product_id if f.product else None,
                    "reason": f.reason,
                    "amount": f.amount,
                    "requested_at": at(f.requested),
                    "completed_at": at(f.completed) if f.completed is not None else None,
                    "status": f.status,
                }
            )
        return {
            "orders": orders,
            "order_items": items,
            "logistics": logistics,
            "refunds": refunds,
            "reviews": reviews,
        }

    def _events(self, o: Order) -> list[dict]:
        """Tracking events of a shipped order up to the end of the period."""
        rng, at, end = self.rng, self.clock.at, self.clock.end
        assert o.ship is not None and o.deliver is not None
        origin: City = self.origins[o.shop.index]
        dest = o.buyer.city
        fill = {"courier": o.courier, "origin": origin.short, "city": dest.short}
        plan = [
            (o.ship, "shipped", origin.hub),
            (o.ship + between(rng, 3 * HOUR, 8 * HOUR), "in_transit", origin.hub),
        ]
        if o.deliver - o.ship > 30 * HOUR:
            plan.append((o.deliver - between(rng, 10 * HOUR, 16 * HOUR), "in_transit", dest.hub))
        if o.exception is not None:
            plan.append((o.exception, "exception", o.hub))
        plan.append((o.deliver - between(rng, HOUR, 4 * HOUR), "out_for_delivery", dest.hub))
        plan.append((o.deliver, "delivered", dest.hub))
        plan.sort(key=lambda e: e[0])
        rows = []
        for t, status, hub in plan:
            if t >= end:
                break
            fill["hub"] = hub
            text = rng.choice(LOGISTICS[status]).format_map(fill)
            rows.append(
                {
                    "order_id": o.order_id,
                    "event_at": at(t),
                    "status": status,
                    "courier": o.courier,
                    "tracking_no": o.tracking,
                    "description": text,
                }
            )
        return rows

    def _reviews(self, o: Order, created: int) -> list[dict]:
        """One product review per line of a delivered order, its tone following how the order went."""
        rng = self.rng
        cat = o.shop.category
        slow = o.exception is not None or self.transit_days(o) >= 4
        r = rng.random()
        if o.trouble:
            rating = "good" if r < 0.45 else "neutral" if r < 0.7 else "bad"
        else:
            rating = "good" if r < (0.84 if slow else 0.91) else "neutral" if r < 0.96 else "bad"
        rows = []
        for item in o.items:
            if rating == "good":
                text = NO_TEXT_REVIEW if rng.random() < 0.12 else rng.choice(REVIEWS[f"good.{cat}"])
                if text != NO_TEXT_REVIEW and rng.random() < 0.6:
                    text += "，" + rng.choice(REVIEWS["good.extra"])
                dsr = [5 if (x := rng.random()) < 0.72 else 4 if x < 0.96 else 3 for _ in range(3)]
                if slow and dsr[2] == 5 and rng.random() < 0.5:
                    dsr[2] = 4
            elif rating == "neutral":
                text = rng.choice(REVIEWS[f"neutral.{cat}"])
                dsr = [rng.randint(3, 4), rng.randint(3, 5), rng.randint(2, 4) if slow else rng.randint(3, 4)]
            else:
                text = rng.choice(REVIEWS[f"bad.{cat}"])
                if rng.random() < 0.4:
                    text += "，" + rng.choice(REVIEWS["bad.extra"])
                dsr = [rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 3)]
            scores: list[int | None] = list(dsr)
            if rng.random() < 0.05:
                scores = [None, None, None]  # the buyer skipped the shop scores
            rows.append(
                {
                    "review_id": "",
                    "order_id": o.order_id,
                    "shop_id": o.shop.shop_id,
                    "buyer_id": o.buyer.buyer_id,
                    "product_id": item.product.product_id,
                    "created_at": created,
                    "rating": rating,
                    "dsr_description": scores[0],
                    "dsr_service": scores[1],
                    "dsr_shipping": scores[2],
                    "text": text,
                }
            )
        return rows
