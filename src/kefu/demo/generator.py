"""Generate a realistic, deterministic history of four demo shops in the interchange format."""

from __future__ import annotations

import datetime as dt
import random

from kefu.demo.catalogue import (
    CATEGORIES,
    GIFTS,
    SHOP_SHARE,
    Agent,
    Product,
    Shop,
    Sku,
    agent_rows,
    build_shops,
    product_rows,
    shop_rows,
)
from kefu.demo.dialogue import Dialogue, Setting, compile_bank
from kefu.demo.draw import between, cumulative, pick, skewed
from kefu.demo.fulfilment import Ledger, Order
from kefu.demo.order_texts import RATING_TAGS
from kefu.demo.people import BUYER_TAGS, Buyer, address, build_buyers
from kefu.demo.phrases import FITS, PHONE_MODELS, SKIN_TYPES, TASTES
from kefu.demo.scenarios import (
    CLOSE_BUY,
    CLOSE_BUY_BARGAIN,
    CLOSE_LEAVE_BARGAIN,
    ESCALATION,
    IMG,
    PEAK_TOPIC_WEIGHTS,
    SCRIPTS,
    TAILS,
    TOPIC_CONVERSION,
    TOPIC_COUNT_CUM,
    TOPIC_WEIGHTS,
    TOPICS,
    Script,
    Step,
    choose,
    flatten,
    script_table,
)
from kefu.demo.timeline import DAY, HOUR, Timeline

DEFAULT_START = dt.date(2026, 10, 19)
BUYERS_PER_CONVERSATION = 0.4
SILENT_ORDERS_PER_CONVERSATION = 0.3
RATING_SHARE = 0.34
SCORES = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")
# Chance of each score (same order as SCORES) by how the chat went.
SCORE_ODDS = {
    "good": cumulative((0.62, 0.26, 0.07, 0.03, 0.02)),
    "mixed": cumulative((0.45, 0.30, 0.13, 0.07, 0.05)),
    "tense": cumulative((0.30, 0.30, 0.17, 0.13, 0.10)),
    "angry": cumulative((0.03, 0.05, 0.15, 0.30, 0.47)),
    "bot": cumulative((0.25, 0.30, 0.20, 0.15, 0.10)),
}

# The fields of every table, in order; each row carries exactly these keys.
TABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "shops": ("shop_id", "name", "category", "timezone", "business_hours", "welcome"),
    "agents": ("shop_id", "agent_id", "nickname", "role", "skill_group"),
    "products": ("shop_id", "product_id", "title", "price", "stock", "category"),
    "skus": ("product_id", "sku", "price", "stock"),
    "buyers": ("buyer_id", "shop_id", "risk_flag", "nickname", "phone", "tags"),
    "messages": ("conversation_id", "shop_id", "buyer_id", "sender", "agent_id", "sent_at", "text"),
    "orders": ("order_id", "shop_id", "buyer_id", "created_at", "paid_at", "amount", "status", "address"),
    "order_items": ("order_id", "product_id", "sku", "quantity", "unit_price"),
    "logistics": ("order_id", "event_at", "status", "courier", "tracking_no", "description"),
    "refunds": (
        "refund_id",
        "order_id",
        "product_id",
        "reason",
        "amount",
        "requested_at",
        "completed_at",
        "status",
    ),
    "ratings": (
        "rating_id",
        "conversation_id",
        "shop_id",
        "buyer_id",
        "agent_id",
        "rated_at",
        "score",
        "robot",
        "tags",
    ),
    "reviews": (
        "review_id",
        "order_id",
        "shop_id",
        "buyer_id",
        "product_id",
        "created_at",
        "rating",
        "dsr_description",
        "dsr_service",
        "dsr_shipping",
        "text",
    ),
    "rating_invitations": ("conversation_id", "shop_id", "buyer_id", "agent_id", "invited_at"),
}


def generate(
    seed: int, conversations: int, start: dt.date | None = None, days: int = 30
) -> dict[str, list[dict]]:
    """Return a realistic dataset: table name -> rows. Deterministic for (seed, conversations, start, days)."""  # noqa: E501
    if conversations < 0:
        raise ValueError("conversations must be >= 0")
    if days < 1:
        raise ValueError("days must be >= 1")
    rng = random.Random(seed)
    clock = Timeline(start or DEFAULT_START, days)
    shops = build_shops(rng)
    n_buyers = max(12, round(conversations * BUYERS_PER_CONVERSATION))
    buyers = build_buyers(rng, n_buyers, [SHOP_SHARE[s.category] for s in shops])
    # Invitations draw from their own stream, so that adding them changed no other table.
    sim = Simulation(rng, clock, shops, buyers, invite_rng=random.Random(seed * 7919 + 17))
    sim.run(conversations)
    return sim.tables()


class Simulation:
    """Plays out the period: chats, the orders they lead to, silent orders, ratings."""

    def __init__(
        self,
        rng: random.Random,
        clock: Timeline,
        shops: list[Shop],
        buyers: list[Buyer],
        invite_rng: random.Random | None = None,
    ) -> None:
        self.rng = rng
        self.invite_rng = invite_rng or random.Random(0)
        self.invitations: list[tuple] = []
        self.invite_habits: dict[str, float] = {}  # agent -> how often they ask for a rating
        self.clock = clock
        self.shops = shops
        self.buyers = buyers
        self.ledger = Ledger(rng, clock, shops)
        self.banks = {cat: compile_bank(cat) for cat in CATEGORIES}
        self.messages: list[dict] = []
        self.ratings: list[tuple] = []
        self.touched: dict[tuple[str, int], list] = {}  # (buyer, shop) -> [buyer, shop, contacts]
        self.conversions = 0
        self.shop_cum = cumulative([SHOP_SHARE[s.category] for s in shops])
        self.product_cum = [cumulative(s.product_weights) for s in shops]
        self.shop_buyers: list[list[Buyer]] = [[] for _ in shops]
        weights: list[list[float]] = [[] for _ in shops]
        for b in buyers:
            for n, si in enumerate(b.shops):
                self.shop_buyers[si].append(b)
                weights[si].append(b.weight if n == 0 else b.weight * 0.7)
        self.buyer_cum = [cumulative(w) if w else [] for w in weights]
        self.scripts = {
            (s.index, mode): script_table(s.category, mode)
            for s in shops
            for mode in ("normal", "peak", "after_peak")
        }
        self.topics = {
            peak: (list(w), cumulative(list(w.values())))
            for peak, w in ((False, TOPIC_WEIGHTS), (True, PEAK_TOPIC_WEIGHTS))
        }

    # --- the schedule ---------------------------------------------------------------------------------
    def run(self, conversations: int) -> None:
        """Play out that many conversations, then the orders nobody chatted about."""
        rng, clock = self.rng, self.clock
        slots = self.special_slots(conversations)
        for t in clock.plan(rng, conversations - len(slots)):
            slots.append((t, len(slots), pick(rng, self.shop_cum), "regular", None))
        slots.sort(key=lambda s: (s[0], s[1]))
        for n, (t, _, si, kind, buyer) in enumerate(slots, start=1):
            self.converse(f"c{n:07d}", t, self.shops[si], buyer, kind)
        for _ in range(round(conversations * SILENT_ORDERS_PER_CONVERSATION)):
            si = pick(rng, self.shop_cum)
            shop = self.shops[si]
            buyer = self.pick_buyer(si)
            product, sku = self.pick_product(shop)
            order = self.ledger.open(shop, buyer, clock.sample(rng), product, sku)
            self.ledger.run_course(order)
            self.touch(buyer, shop)

    def special_slots(self, conversations: int) -> list[tuple]:
        """Chats that must be there: rating bursts, multi-shop buyers, the flagged accounts' (all rated)."""
        rng, clock = self.rng, self.clock
        if conversations < 50:
            return []
        slots: list[tuple] = []
        last_day = max(0, clock.days - 2)
        for _ in range(max(1, conversations // 600)):
            si = pick(rng, self.shop_cum)
            buyer = self.pick_buyer(si)
            for _ in range(20):
                if buyer.risk_flag is None:
                    break
                buyer = self.pick_buyer(si)
            # One account rating the same shop again and again within minutes.
            t = rng.randint(0, last_day) * DAY + between(rng, 10 * HOUR, 21 * HOUR)
            for _ in range(rng.randint(4, 6)):
                slots.append((t, len(slots), si, "burst", buyer))
                t += between(rng, 75, 95)
        # A few of the buyers who shop at two of the shops surely show up at the second one.
        for buyer in [b for b in self.buyers if len(b.shops) > 1][:5]:
            slots.append((clock.sample(rng), len(slots), buyer.shops[1], "regular", buyer))
        for buyer in self.buyers:
            if buyer.risk_flag:
                for _ in range(rng.randint(2, 4)):
                    si = buyer.shops[int(rng.random() * len(buyer.shops))]
                    slots.append((clock.sample(rng, last_day), len(slots), si, "flagged", buyer))
        return slots[:conversations]

    def pick_buyer(self, si: int) -> Buyer:
        """A buyer of the shop, regulars more likely."""
        cum = self.buyer_cum[si]
        if not cum:
            return self.buyers[int(self.rng.random() * len(self.buyers))]
        return self.shop_buyers[si][pick(self.rng, cum)]

    def pick_product(self, shop: Shop) -> tuple[Product, Sku]:
        """A product (popular ones more likely) and one of its SKUs."""
        product = shop.products[pick(self.rng, self.product_cum[shop.index])]
        return product, product.skus[int(self.rng.random() * len(product.skus))]

    def pick_agent(self, shop: Shop, group: str, peak: bool) -> Agent:
        """Who takes the chat: the group's agents, sometimes the supervisor or (on the big day) the owner."""
        rng = self.rng
        r = rng.random()
        if r < (0.12 if peak else 0.05):
            return shop.supervisor
        if peak and r < 0.16:
            return shop.admin
        pool = shop.presale if group == "presale" else shop.aftersale
        return pool[int(rng.random() * len(pool))]

    def touch(self, buyer: Buyer, shop: Shop) -> None:
        """Note that the buyer dealt with the shop (one buyers row per such pair)."""
        entry = self.touched.get((buyer.buyer_id, shop.index))
        if entry is None:
            self.touched[(buyer.buyer_id, shop.index)] = [buyer, shop, 1]
        else:
            entry[2] += 1

    # --- one conversation -----------------------------------------------------------------------------
    def prepare_order(self, script: Script, shop: Shop, buyer: Buyer, t0: int) -> Order | None:
        """The order an after-sale (or payment) chat is about, placed before the chat in the right state."""
        rng, ledger = self.rng, self.ledger
        setup = script.setup
        product, sku = self.pick_product(shop)
        qty = rng.randint(2, 3) if script.name == "missing" else None
        order = ledger.open(shop, buyer, t0, product, sku, qty=qty)
        if setup in ("unpaid_fresh", "unpaid_wait"):
            fresh = setup == "unpaid_fresh"
            order.created = t0 - (between(rng, 60, 600) if fresh else between(rng, 1200, 6 * HOUR))
            order.cancelled = script.name == "remind_no" and rng.random() < 0.5
        elif setup in ("paid_fresh", "paid_waiting"):
            fresh = setup == "paid_fresh"
            order.created = t0 - (between(rng, 300, 3 * HOUR) if fresh else between(rng, DAY, 4 * DAY))
            ledger.pay(order, order.created + between(rng, 30, 240))
            if order.created >= 0 and order.paid is not None:
                ship = t0 + (between(rng, HOUR, 10 * HOUR) if fresh else between(rng, 2 * HOUR, 30 * HOUR))
                ledger.dispatch(order, ship, exception=False)
        elif setup == "stuck":
            ship = t0 - between(rng, 3 * DAY, 6 * DAY)
            order.paid = ship - between(rng, 2 * HOUR, 20 * HOUR)
            order.created = order.paid - skewed(rng, 20, 900)
            ledger.dispatch(order, ship, exception=False)
            order.exception = max(ship + 10 * HOUR, t0 - between(rng, 12 * HOUR, 2 * DAY))
            order.hub = ledger.hub(order)
            order.deliver = (t0 + between(rng, DAY, 3 * DAY)) // DAY * DAY + between(rng, 9 * HOUR, 20 * HOUR)
            order.complete = order.deliver + between(rng, DAY, 9 * DAY)
        else:
            spans = {
                "delivered": (2 * HOUR, 2 * DAY),
                "delivered_recent": (DAY, 6 * DAY),
                "refund_pending": (4 * DAY, 9 * DAY),
            }[setup or "delivered"]
            ledger.backdate(order, t0 - between(rng, *spans))
            order.trouble = script.name in ("wrong", "missing", "damaged", "quality")
        if order.created < 0:
            ledger.orders.pop()  # too early in the period for this story; the buyer asks something else
            return None
        if setup == "refund_pending":
            assert order.deliver is not None
            asked = max(order.deliver + 6 * HOUR, t0 - between(rng, 2 * DAY, 4 * DAY))
            ledger.refund(order, min(asked, t0 - 600), "", "full", done_at=t0 + between(rng, HOUR, 2 * DAY))
        return order

    def compose_chat(self, steps: list[Step], agent: Agent, peak: bool) -> tuple[bool, bool]:
        """String one to four pre-sale topics together; returns (ends in an order, bargained)."""
        rng = self.rng
        names, cum = self.topics[peak]
        wanted = pick(rng, TOPIC_COUNT_CUM) + 1
        chosen: list[str] = []
        for _ in range(12):
            name = names[pick(rng, cum)]
            if name not in chosen and not ({name, *chosen} >= {"stock", "stock_out"}):
                chosen.append(name)
                if len(chosen) == wanted:
                    break
        if rng.random() < 0.3:
            steps.append(IMG)  # the buyer opens by sending the product card
        for name in chosen:
            flatten(rng, TOPICS[name], steps)
        p = max(TOPIC_CONVERSION[c] for c in chosen) + 0.05 * (len(chosen) - 1)
        p *= agent.conversion * (1.25 if peak else 1.0)
        convert = rng.random() < min(p, 0.92)
        bargain = "bargain" in chosen
        if convert:
            flatten(rng, CLOSE_BUY_BARGAIN if bargain else choose(rng, CLOSE_BUY), steps)
        elif bargain:
            flatten(rng, CLOSE_LEAVE_BARGAIN, steps)
        return convert, bargain

    def context(
        self, shop: Shop, buyer: Buyer, agent: Agent, product: Product, sku: Sku, order: Order | None, t0: int
    ) -> dict[str, str]:
        """Everything a wording may mention, for this chat."""
        rng = self.rng
        height = rng.randint(150, 188)
        weight = int((height - 100) * 2 * (0.8 + 0.35 * rng.random()))
        sizes = [k.label.rsplit("/", 1)[1] for k in product.skus if "/" in k.label]
        sizes = list(dict.fromkeys(sizes))
        size = sizes[min(len(sizes) - 1, max(0, (weight - 85) // 18))] if sizes else "M"
        others = [k for k in product.skus if k is not sku] or product.skus
        other = others[int(rng.random() * len(others))]
        days = self.ledger.transit_days_to(shop, buyer)
        item_qty = max(2, order.items[0].qty) if order else 2
        price = sku.price
        couriers = [c for c in ("顺丰", "京东快递", "EMS", "中通", "圆通") if c != shop.courier]
        return {
            "shop": shop.name,
            "agent": agent.nickname,
            "product": product.short,
            "sku": sku.label,
            "sku2": other.label,
            "price": f"{price:.0f}",
            "low_price": f"{price * 6 / 10:.0f}",
            "city": buyer.city.short,
            "origin": shop.origin,
            "courier": shop.courier,
            "alt_courier": couriers[int(rng.random() * len(couriers))],
            "days": str(days),
            "days2": str(days + 1),
            "fee": str(rng.randint(6, 15)),
            "height": str(height),
            "weight": str(weight),
            "size": size,
            "fit": FITS[int(rng.random() * 3)],
            "skin": rng.choice(SKIN_TYPES),
            "phone": rng.choice(PHONE_MODELS),
            "taste": rng.choice(TASTES),
            "feature": product.feature,
            "coupon": str(rng.choice((5, 10, 10, 15, 20, 30))),
            "gift": rng.choice(GIFTS[shop.category]),
            "restock": str(rng.randint(3, 15)),
            "address": order.address if order else buyer.address,
            "masked_phone": buyer.masked_phone,
            "order_tail": order.order_id[-4:] if order else "",
            "tracking_tail": order.tracking[-4:] if order and order.tracking else "",
            "hub": order.hub if order and order.hub else buyer.city.hub,
            "stuck_days": str(rng.randint(3, 6)),
            "since": str(self._days_since(order, t0)),
            "qty": str(item_qty),
            "qty_less": str(item_qty - 1),
            "refund_amount": str(max(5, int(price * rng.choice((10, 15, 20, 30)) / 100))),
            "hours": shop.hours_text,
        }

    def _days_since(self, order: Order | None, t0: int) -> int:
        """Whole days since the order was placed (or its refund filed), as the buyer counts them."""
        if order is None:
            return self.rng.randint(2, 5)
        since = order.refunds[-1].requested if order.refunds else order.created
        return max(1, (t0 - since) // DAY)

    def converse(self, cid: str, t0: int, shop: Shop, buyer: Buyer | None, kind: str) -> None:
        """Play out one conversation and what follows from it: an order, a rating."""
        rng, clock, ledger = self.rng, self.clock, self.ledger
        if buyer is None:
            buyer = self.pick_buyer(shop.index)
        peak = clock.is_peak(t0)
        offhours = not clock.is_open(shop.hours, t0)
        script = self.pick_script(shop, t0, kind, offhours)
        order = self.prepare_order(script, shop, buyer, t0) if script.setup else None
        if script.setup and order is None:
            script = SCRIPTS["chat"]
        if order is not None:
            product = order.items[0].product
            sku = next(k for k in product.skus if k.label == order.items[0].sku)
        else:
            product, sku = self.pick_product(shop)
        agent = self.pick_agent(shop, script.group, peak)

        steps: list[Step] = []
        convert = bargain = escalated = False
        if script.name == "chat":
            convert, bargain = self.compose_chat(steps, agent, peak)
        else:
            flatten(rng, script.steps, steps)
            if order is not None and script.escalates and rng.random() < script.escalates:
                flatten(rng, ESCALATION, steps)
                escalated = True
            if script.name in ("human", "browse"):
                if rng.random() < 0.35:
                    flatten(rng, TOPICS["ship" if rng.random() < 0.5 else "spec"], steps)
                convert = rng.random() < 0.25 * agent.conversion
        if not escalated and script.name not in ("burst", "remind_yes", "remind_no", "bot_faq"):
            flatten(rng, choose(rng, TAILS), steps)
        if kind != "burst" and rng.random() < 0.03:
            # The buyer's last question slips through the cracks and is never answered.
            asked = [i for i, s in enumerate(steps) if s[0] == "b"]
            if asked:
                del steps[asked[-1] + 1 :]
        ctx = self.context(shop, buyer, agent, product, sku, order, t0)
        if script.name == "address" and order is not None:
            order.address = ctx["address"] = address(rng, buyer.city)

        # Now and then a chat is handed to a colleague halfway (shift change, a question for the other team).
        agent_turns = sum(1 for s in steps if s[0] in ("a", "check"))
        transfer_at = -1
        if (
            kind != "burst"
            and agent_turns >= 3
            and rng.random() < 0.08
            and not any(s[0] == "sup" for s in steps)
        ):
            transfer_at = rng.randint(1, agent_turns - 2)

        setting = Setting(
            cid,
            shop,
            buyer,
            agent,
            product,
            sku,
            order,
            ctx,
            script.group == "aftersale",
            kind == "burst",
            peak,
            offhours,
            transfer_at,
        )
        chat = Dialogue(rng, clock, ledger, self.banks[shop.category], self.messages, setting, t0)
        chat.play(steps)

        if convert and not chat.inline_order and chat.last_agent_t >= 0:
            created = chat.last_agent_t + self.conversion_delay()
            if created < clock.end:
                # A coupon promised while bargaining (the first two offers) comes off the order.
                coupon = int(ctx["coupon"]) if bargain and chat.chosen.get("bargain.offer", 9) < 2 else 0
                placed = ledger.open(shop, buyer, created, product, sku, coupon=coupon)
                ledger.run_course(placed)
        self.touch(buyer, shop)
        self.invite(chat)
        self.rate(chat, script, kind)

    def pick_script(self, shop: Shop, t0: int, kind: str, offhours: bool) -> Script:
        """The scenario of a chat, by the shop's category and the kind of day."""
        if kind == "burst":
            return SCRIPTS["burst"]
        clock = self.clock
        mode = "peak" if clock.is_peak(t0) else "after_peak" if clock.after_peak(t0) else "normal"
        names, cum = self.scripts[(shop.index, mode)]
        script = SCRIPTS[names[pick(self.rng, cum)]]
        if offhours and script.steps and script.steps[0][0] == "a":
            script = SCRIPTS["chat"]  # nobody reaches out to buyers in the middle of the night
        return script

    def conversion_delay(self) -> int:
        """Seconds from the agent's last message to the order: mostly minutes, sometimes hours."""
        rng = self.rng
        self.conversions += 1
        # One order in twelve lands just inside a 24-hour attribution window and one just outside it, on a
        # fixed beat so that even a small dataset has both edge cases.
        beat = self.conversions % 12
        if beat == 5:
            return between(rng, 23 * HOUR, 24 * HOUR - 60)
        if beat == 11:
            return between(rng, 24 * HOUR + 60, 26 * HOUR)
        if rng.random() < 0.72:
            return skewed(rng, 60, 90 * 60)
        return between(rng, 90 * 60, 20 * HOUR)

    def invite(self, chat: Dialogue) -> None:
        """Maybe the agent (or the system, after a bot-only chat) asks the buyer to rate the chat."""
        rng = self.invite_rng
        agent = None if chat.bot_only else chat.agent
        if agent is None:
            habit = 0.5
        else:
            habit = self.invite_habits.setdefault(agent.agent_id, 0.55 + 0.4 * rng.random())
        invited = chat.ended + between(rng, 1, 4)
        if rng.random() < habit and invited < self.clock.end:
            aid = agent.agent_id if agent else None
            self.invitations.append((invited, chat.s.cid, chat.s.shop.shop_id, chat.s.buyer.buyer_id, aid))

    def rate(self, chat: Dialogue, script: Script, kind: str) -> None:
        """Maybe the buyer rates the chat (服务评价) shortly after it ends."""
        rng = self.rng
        shop, buyer = chat.s.shop, chat.s.buyer
        agent = None if chat.bot_only else chat.agent
        forced = kind in ("burst", "flagged")
        if not forced and rng.random() >= (0.35 if agent is None else RATING_SHARE):
            return
        rated = chat.ended + (between(rng, 3, 15) if kind == "burst" else between(rng, 5, 600))
        if rated >= self.clock.end:
            return
        if buyer.risk_flag:
            # Accounts that rate for pay: nearly always top marks, now and then a hit on a rival.
            idx = 0 if rng.random() < 0.8 else 4
        else:
            mood = "bot" if agent is None else script.mood
            idx = pick(rng, SCORE_ODDS[mood])
            if (chat.long_wait or chat.last == "b") and idx < 4 and rng.random() < 0.4:
                idx += 1  # a long wait or an unanswered last message costs a notch
            if agent is not None and agent.speed[1] >= 100 and idx < 4 and rng.random() < 0.15:
                idx += 1
        tags = None
        if not buyer.risk_flag and rng.random() < 0.55:
            pool = RATING_TAGS["good" if idx <= 1 else "neutral" if idx == 2 else "bad"]
            tags = "|".join(rng.sample(pool, 1 if rng.random() < 0.6 else 2))
        robot = buyer.rating_robot or rng.random() < 0.004
        aid = agent.agent_id if agent else None
        self.ratings.append((rated, chat.s.cid, shop.shop_id, buyer.buyer_id, aid, SCORES[idx], robot, tags))

    # --- the tables -----------------------------------------------------------------------------------
    def tables(self) -> dict[str, list[dict]]:
        """All tables, rows in a stable order."""
        rng, at = self.rng, self.clock.at
        for order in self.ledger.orders:
            self.touch(order.buyer, order.shop)
        refunded: dict[tuple[str, int], int] = {}
        for r in self.ledger.refunds:
            key = (r.order.buyer.buyer_id, r.order.shop.index)
            refunded[key] = refunded.get(key, 0) + 1
        buyers = []
        for (bid, si), (buyer, shop, contacts) in self.touched.items():
            tags: list[str] = []
            if contacts >= 5:
                tags.append("老客户")
            if refunded.get((bid, si), 0) >= 2:
                tags.append("退货较多")
            if rng.random() < 0.15:
                tags.append(rng.choice(BUYER_TAGS[shop.category]))
            buyers.append(
                {
                    "buyer_id": bid,
                    "shop_id": shop.shop_id,
                    "risk_flag": buyer.risk_flag,
                    "nickname": buyer.nickname,
                    "phone": buyer.phone,
                    "tags": "|".join(tags) or None,
                }
            )
        ratings = []
        self.ratings.sort(key=lambda r: (r[0], r[1]))
        for n, (rated, cid, sid, bid, aid, score, robot, chosen_tags) in enumerate(self.ratings, start=1):
            ratings.append(
                {
                    "rating_id": f"rt{n:07d}",
                    "conversation_id": cid,
                    "shop_id": sid,
                    "buyer_id": bid,
                    "agent_id": aid,
                    "rated_at": at(rated),
                    "score": score,
                    "robot": robot,
                    "tags": chosen_tags,
                }
            )
        products, skus = product_rows(self.shops)
        out = {
            "shops": shop_rows(self.shops),
            "agents": agent_rows(self.shops),
            "products": products,
            "skus": skus,
            "buyers": buyers,
            "messages": self.messages,
        }
        out.update(self.ledger.rows())
        out["ratings"] = ratings
        at = self.clock.at
        out["rating_invitations"] = [
            {"conversation_id": cid, "shop_id": sid, "buyer_id": bid, "agent_id": aid, "invited_at": at(t)}
            for t, cid, sid, bid, aid in sorted(self.invitations, key=lambda r: (r[0], r[1]))
        ]
        return {name: out[name] for name in TABLE_FIELDS}
