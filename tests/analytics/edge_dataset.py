"""Small, messy, seeded datasets in the interchange format, to check kefu's report against the reference.

`write_edge_dataset(folder, seed)` writes a random dataset (3 shops, a few hundred
conversations, a few thousand messages) full of the cases the metrics contract is precise
about, in a mix of encodings and layouts. The hand-made cases, one per rule, are in
tiny_cases.py.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"

MESSAGE_FIELDS = (
    "message_id",
    "conversation_id",
    "shop_id",
    "buyer_id",
    "sender",
    "agent_id",
    "sent_at",
    "text",
)
ORDER_FIELDS = ("order_id", "shop_id", "buyer_id", "created_at", "paid_at", "amount")
ITEM_FIELDS = ("order_id", "product_id", "sku", "quantity", "unit_price")
REFUND_FIELDS = (
    "refund_id",
    "order_id",
    "product_id",
    "reason",
    "amount",
    "requested_at",
    "completed_at",
    "status",
)
RATING_FIELDS = (
    "rating_id",
    "conversation_id",
    "shop_id",
    "buyer_id",
    "agent_id",
    "rated_at",
    "score",
    "robot",
    "tags",
)
REVIEW_FIELDS = (
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
)
BUYER_FIELDS = ("buyer_id", "shop_id", "risk_flag", "nickname")
SHOP_FIELDS = ("shop_id", "name", "category", "timezone")


# ---------------------------------------------------------------------------------------------
# Writing tables
# ---------------------------------------------------------------------------------------------


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    return value


def write_jsonl(path: Path, rows: list[dict], fields: tuple[str, ...] | None = None) -> None:
    """One JSON object a line; keys whose value is the marker `...` are left out of that line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            names = fields or tuple(row)
            record = {n: _cell(row.get(n)) for n in names if row.get(n, None) is not Ellipsis}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_csv(path: Path, rows: list[dict], fields: tuple[str, ...], bom: bool = True) -> None:
    """A CSV with a header row; with a UTF-8 BOM as Excel writes it unless `bom` is False."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for row in rows:
            cells = []
            for name in fields:
                value = row.get(name)
                if value is None or value is Ellipsis:
                    cells.append("")
                elif isinstance(value, bool):
                    cells.append("true" if value else "false")
                else:
                    cells.append(str(_cell(value)))
            writer.writerow(cells)


# ---------------------------------------------------------------------------------------------
# The edge dataset
# ---------------------------------------------------------------------------------------------

# shop_id -> (time zone in the shops table or None: not listed, agents)
SHOPS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "shop_a": ("Asia/Shanghai", ("a1", "a2", "a3")),
    "shop_b": ("Asia/Tokyo", ("a1", "b7")),  # a1: the same agent_id in two shops
    "0042": (None, ("0007", "a9")),
}
BUYER_ONLY_SHOP = "0099"  # appears only in the buyers table
OTHER_OFFSETS = (
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=9)),
)
REASONS = ("尺码不合适", "质量问题", "7天无理由", "发货太慢", "damaged", "wrong_item")
TEXTS = ("你好，在吗？", "有货吗", "多久发货", 'size "M", or L?', "好的\n谢谢", "", "[图片]", "ok")


def shop_zone(shop: str) -> str:
    """The zone in which kefu (and the reference) read this shop's naive timestamps."""
    zone = SHOPS.get(shop, (None, ()))[0]
    return zone or DEFAULT_ZONE


@dataclass
class _Builder:
    rng: random.Random
    date_from: date
    date_to: date
    messages: list[dict] = field(default_factory=list)  # blocks are flattened at the end
    blocks: list[list[dict]] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    refunds: list[dict] = field(default_factory=list)
    ratings: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)
    buyers: list[dict] = field(default_factory=list)
    counter: int = 0

    # --- ids and times

    def next_id(self, prefix: str, width: int = 6) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:0{width}d}"

    def start_of(self, day: date, shop: str) -> datetime:
        return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(shop_zone(shop))).astimezone(UTC)

    def random_instant(self, begin: datetime, end: datetime) -> datetime:
        seconds = int((end - begin).total_seconds())
        return begin + timedelta(seconds=self.rng.randint(0, seconds))

    def render(self, instant: datetime, shop: str) -> str:
        """The instant written in one of the encodings the contract allows."""
        style = self.rng.choices(
            ("plus8", "z", "utc", "other", "naive", "space", "millis"), (30, 15, 8, 12, 25, 5, 5)
        )[0]
        if style == "plus8":
            return instant.astimezone(timezone(timedelta(hours=8))).isoformat()
        if style == "z":
            return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if style == "utc":
            return instant.astimezone(UTC).isoformat()
        if style == "other":
            return instant.astimezone(self.rng.choice(OTHER_OFFSETS)).isoformat()
        if style == "space":
            return instant.astimezone(timezone(timedelta(hours=8))).isoformat(sep=" ")
        if style == "millis":
            return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return instant.astimezone(ZoneInfo(shop_zone(shop))).replace(tzinfo=None).isoformat()

    # --- rows

    def block(self) -> list[dict]:
        messages: list[dict] = []
        self.blocks.append(messages)
        return messages

    def say(self, block: list[dict], conv: str, shop: str, buyer: str, sender: str, agent: str | None, at):
        block.append(
            {
                "conversation_id": conv,
                "shop_id": shop,
                "buyer_id": buyer,
                "sender": sender,
                "agent_id": agent,
                "sent_at": at,
                "text": self.rng.choice(TEXTS),
            }
        )

    def order(
        self, shop: str, buyer: str, created: datetime, paid: datetime | str | None = "random", items=None
    ) -> dict:
        if paid == "random":
            paid = (
                None
                if self.rng.random() < 0.25
                else created + timedelta(seconds=self.rng.randint(30, 3 * 86400))
            )
        amount = Decimal(self.rng.randint(100, 99999)) / 100
        # Mostly "12.30"; sometimes "12.3" or "12" (at most 2 places, as the contract allows).
        text = f"{amount:.2f}" if self.rng.random() < 0.8 else format(amount.normalize(), "f")
        row = {
            "order_id": self.next_id("000"),
            "shop_id": shop,
            "buyer_id": buyer,
            "created_at": created,
            "paid_at": paid,
            "amount": text,
        }
        self.orders.append(row)
        count = self.rng.choice((0, 1, 1, 1, 2, 3)) if items is None else items
        for _ in range(count):
            product = f"{self.rng.randint(1, 9):04d}"
            self.items.append(
                {
                    "order_id": row["order_id"],
                    "product_id": product,
                    "sku": self.rng.choice((None, f"{product}-R", f"{product}-B")),
                    "quantity": self.rng.randint(1, 3),
                    "unit_price": f"{Decimal(self.rng.randint(100, 9999)) / 100:.2f}",
                }
            )
        return row

    def refund(self, order: dict, status: str, completed: datetime | None, product: str | None) -> None:
        requested = (order["paid_at"] or order["created_at"]) + timedelta(minutes=self.rng.randint(5, 600))
        if completed is not None and completed < requested:
            requested = completed - timedelta(minutes=1)
        self.refunds.append(
            {
                "refund_id": self.next_id("R"),
                "order_id": order["order_id"],
                "product_id": product,
                "reason": self.rng.choice(REASONS),
                "amount": f"{Decimal(self.rng.randint(100, 5000)) / 100:.2f}",
                "requested_at": requested,
                "completed_at": completed,
                "status": status,
                "_shop": order["shop_id"],
            }
        )

    def rating(
        self, conv: str, shop: str, buyer: str, agent: str | None, at: datetime, robot=None, score=None
    ):
        self.ratings.append(
            {
                "rating_id": self.next_id("RT"),
                "conversation_id": conv,
                "shop_id": shop,
                "buyer_id": buyer,
                "agent_id": agent,
                "rated_at": at,
                "score": score
                or self.rng.choices(
                    ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied"),
                    (40, 30, 12, 10, 8),
                )[0],
                "robot": robot if robot is not None else self.rng.choices(("", True, False), (70, 10, 20))[0],
                "tags": self.rng.choice(("", "回复快|态度好", "态度好")),
            }
        )

    def review(self, order: dict, created: datetime, dsr_empty: float = 0.2) -> None:
        def score():
            return None if self.rng.random() < dsr_empty else self.rng.randint(1, 5)

        product = next((i["product_id"] for i in self.items if i["order_id"] == order["order_id"]), None)
        self.reviews.append(
            {
                "review_id": self.next_id("RV"),
                "order_id": order["order_id"],
                "shop_id": order["shop_id"],
                "buyer_id": order["buyer_id"],
                "product_id": product,
                "created_at": created,
                "rating": self.rng.choices(("good", "neutral", "bad"), (75, 15, 10))[0],
                "dsr_description": score(),
                "dsr_service": score(),
                "dsr_shipping": score(),
                "text": self.rng.choice(("好评", "", "质量不错, 物流快")),
            }
        )


def _random_conversation(b: _Builder, shop: str, buyer: str, start: datetime) -> tuple[str, list[dict]]:
    """A random chat: turns, bots and systems between them, transfers, proactive agents, last words."""
    rng = b.rng
    agents = SHOPS[shop][1]
    conv = b.next_id("C")
    block = b.block()
    kind = rng.choices(("normal", "proactive", "no_buyer", "bot_only", "unanswered"), (58, 12, 8, 11, 11))[0]
    agent = rng.choice(agents)
    t = start

    def say(sender, who, at):
        b.say(block, conv, shop, buyer, sender, who, at)

    if kind == "no_buyer":
        if rng.random() < 0.5:
            say("system", None, t)
        for _ in range(rng.randint(1, 3)):
            t += timedelta(seconds=rng.choice((0, 2, 60)))
            say(rng.choice(("agent", "agent", "bot")), agent, t)
            if block[-1]["sender"] == "bot":
                block[-1]["agent_id"] = None
        return conv, block
    if kind == "proactive":
        say("agent", agent, t)
        if rng.random() < 0.3:
            say("system", None, t)
        t += timedelta(seconds=rng.choice((0, 5, 40, 600)))
    for number in range(rng.randint(1, 4)):
        turn_start = t
        for k in range(rng.randint(1, 3)):
            if k and rng.random() < 0.2:
                say(rng.choice(("bot", "system")), None, t)  # inside a run: does not split it
            say("buyer", None, t)
            t += timedelta(seconds=rng.choice((0, 0, 1, 1.5, 3, 10, 25)))
        last_buyer = block[-1]["sent_at"]
        if rng.random() < 0.3 or kind == "bot_only":
            t = last_buyer + timedelta(seconds=rng.choice((0, 1, 2)))
            say("bot", None, t)
        if rng.random() < 0.1:
            say("system", None, t)
        if kind == "bot_only" or (kind == "unanswered" and (number > 0 or rng.random() < 0.5)):
            t += timedelta(seconds=rng.choice((30, 300, 3600)))
            continue
        if rng.random() < 0.12 and len(agents) > 1:  # transfer
            say("system", None, t)
            agent = rng.choice([a for a in agents if a != agent])
        delay = rng.choice((0, 0, 1, 5, 12, 29, 30, 30, 31, 45, 90, 240, 1800))
        answer = max(turn_start + timedelta(seconds=delay), last_buyer)
        if answer == last_buyer and rng.random() < 0.3:
            # buyer and agent at the same second, the agent first in the file
            where = max(i for i, m in enumerate(block) if m["sender"] == "buyer")
            block.insert(where, {**block[where], "sender": "agent", "agent_id": agent})
        else:
            say("agent", agent, answer)
        for _ in range(rng.choice((0, 0, 1, 2))):
            say("agent", agent, answer + timedelta(seconds=rng.choice((0, 3, 20))))
        t = answer + timedelta(seconds=rng.choice((5, 60, 600, 7200)))
    if rng.random() < 0.2 and kind != "unanswered":
        say("buyer", None, t)  # the buyer has the last word
        if rng.random() < 0.5:
            say("bot", None, t + timedelta(seconds=1))
    return conv, block


def _last(block: list[dict], sender: str) -> dict | None:
    found = [m for m in block if m["sender"] == sender]
    return max(found, key=lambda m: m["sent_at"]) if found else None


def _scenarios(b: _Builder, shop: str) -> None:
    """Hand-placed cases with buyers of their own, so that nothing else disturbs them."""
    rng = b.rng
    agents = SHOPS[shop][1]
    p_start = b.start_of(b.date_from, shop)
    p_end = b.start_of(b.date_to, shop)
    tag = shop[-1]

    def buyer(name: str) -> str:
        return f"9{tag}{name}"

    def chat(who: str, messages: list[tuple[str, str | None, datetime]]) -> str:
        conv = b.next_id("C")
        block = b.block()
        for sender, agent, at in messages:
            b.say(block, conv, shop, who, sender, agent, at)
        return conv

    def inside(low_hours=24, high_hours=None) -> datetime:
        high = p_end - timedelta(hours=high_hours or 48)
        return b.random_instant(p_start + timedelta(hours=low_hours), high).replace(microsecond=0)

    # Order exactly 24 h after the agent's message: attributed to that agent.
    t = inside()
    chat(buyer("01"), [("buyer", None, t - timedelta(seconds=20)), ("agent", agents[0], t)])
    b.order(shop, buyer("01"), t + timedelta(hours=24), paid=t + timedelta(hours=25))
    # 24 h + 1 s after: outside the window, silent.
    t = inside()
    chat(buyer("02"), [("buyer", None, t - timedelta(seconds=5)), ("agent", agents[-1], t)])
    b.order(shop, buyer("02"), t + timedelta(hours=24, seconds=1))
    # 24 h + 1 s after the agent, a bot message in the window: bot-assisted.
    t = inside()
    chat(buyer("03"), [("buyer", None, t), ("agent", agents[0], t), ("bot", None, t + timedelta(hours=3))])
    b.order(shop, buyer("03"), t + timedelta(hours=24, seconds=1), paid=t + timedelta(hours=24, minutes=2))
    # At the same second as the agent's message; and two agents at one second in two conversations.
    t = inside()
    chat(buyer("04"), [("buyer", None, t - timedelta(seconds=30)), ("agent", agents[-1], t)])
    b.order(shop, buyer("04"), t, paid=t + timedelta(minutes=1))
    t = inside()
    chat(buyer("05"), [("buyer", None, t - timedelta(seconds=9)), ("agent", agents[0], t)])
    chat(buyer("05"), [("agent", agents[-1], t), ("buyer", None, t + timedelta(seconds=4))])
    b.order(shop, buyer("05"), t + timedelta(minutes=5), paid=t + timedelta(minutes=6))
    # Only bot messages in the window.
    t = inside()
    chat(buyer("06"), [("buyer", None, t), ("bot", None, t), ("bot", None, t + timedelta(seconds=1))])
    b.order(shop, buyer("06"), t + timedelta(hours=2), paid=t + timedelta(hours=3))
    # Silent orders: buyers who never wrote.
    for n in range(3):
        b.order(shop, buyer(f"1{n}"), inside(), paid=rng.choice((None, "random")))
    # Created in P, paid after `to`.
    t = p_end - timedelta(hours=3)
    chat(
        buyer("07"),
        [("buyer", None, t - timedelta(minutes=2)), ("agent", agents[0], t - timedelta(minutes=1))],
    )
    b.order(shop, buyer("07"), t, paid=p_end + timedelta(hours=5))
    # Attributing message in P, order created after `to`.
    t = p_end - timedelta(hours=2)
    chat(buyer("08"), [("buyer", None, t), ("agent", agents[-1], t + timedelta(seconds=30))])
    b.order(shop, buyer("08"), p_end + timedelta(hours=4), paid=p_end + timedelta(hours=5))
    # Attributing message before P, order in P.
    t = p_start - timedelta(hours=2)
    chat(buyer("09"), [("buyer", None, t), ("agent", agents[0], t + timedelta(seconds=12))])
    b.order(shop, buyer("09"), p_start + timedelta(hours=3), paid=p_start + timedelta(hours=4))
    # A turn starting just before `to`, answered after it; a conversation at `from` exactly.
    chat(
        buyer("20"),
        [
            ("buyer", None, p_end - timedelta(seconds=20)),
            ("agent", agents[-1], p_end + timedelta(seconds=10)),
        ],
    )
    chat(buyer("21"), [("buyer", None, p_start), ("buyer", None, p_start), ("agent", agents[0], p_start)])
    chat(
        buyer("22"),
        [
            ("buyer", None, p_start - timedelta(seconds=1)),
            ("agent", agents[0], p_start + timedelta(seconds=40)),
        ],
    )
    chat(buyer("23"), [("buyer", None, p_end), ("agent", agents[0], p_end + timedelta(seconds=3))])

    # Refunds: every status, completed in and outside P, with and without product,
    # for orders with and without lines.
    paid_in_p = [
        o for o in b.orders if o["shop_id"] == shop and o["paid_at"] and p_start <= o["paid_at"] < p_end
    ]
    with_lines = [o for o in paid_in_p if any(i["order_id"] == o["order_id"] for i in b.items)]
    without = [o for o in paid_in_p if o not in with_lines]
    if not without:
        without = [b.order(shop, buyer("30"), inside(), paid=inside(), items=0)]
        without[0]["paid_at"] = without[0]["created_at"] + timedelta(hours=1)
    if not with_lines:
        with_lines = [b.order(shop, buyer("31"), inside(), items=2)]
        with_lines[0]["paid_at"] = with_lines[0]["created_at"] + timedelta(hours=1)
    line_product = next(i["product_id"] for i in b.items if i["order_id"] == with_lines[0]["order_id"])
    b.refund(with_lines[0], "completed", inside(), line_product)
    b.refund(with_lines[0], "completed", inside(), None)
    b.refund(with_lines[-1], "completed", p_end + timedelta(hours=1), line_product)
    b.refund(without[0], "completed", inside(), None)
    b.refund(without[0], "completed", inside(), "0777")  # a product with no line anywhere
    b.refund(without[-1], "completed", p_start - timedelta(hours=1), None)
    for status in ("requested", "rejected", "cancelled"):
        b.refund(rng.choice(paid_in_p or with_lines), status, None, rng.choice((None, line_product)))
    b.refund(with_lines[0], "rejected", inside(), line_product)  # a completed_at, but not completed
    # Refunds completed exactly at `from` and `to`.
    b.refund(with_lines[0], "completed", p_start, line_product)
    b.refund(with_lines[0], "completed", p_end, line_product)

    # Rating bursts from one buyer: < 10 min apart, exactly 10 min, equal times, more than 3 in P.
    burst = buyer("40")
    t = inside()
    conv = chat(
        burst, [("buyer", None, t - timedelta(minutes=1)), ("agent", agents[0], t - timedelta(seconds=30))]
    )
    for offset, robot in (
        (0, ""),
        (300, True),
        (599, ""),
        (600, False),
        (600, ""),
        (900, "yes"),
        (1199, "0"),
        (1200, "1"),
        (1800, ""),
        (3600, ""),
        (7200, ""),
    ):
        b.rating(
            conv, shop, burst, rng.choice((agents[0], agents[0], None)), t + timedelta(seconds=offset), robot
        )
    # Two buyers rating at the same second.
    t = inside()
    for name in ("41", "42"):
        conv = chat(
            buyer(name),
            [("buyer", None, t - timedelta(minutes=3)), ("agent", agents[-1], t - timedelta(minutes=2))],
        )
        b.rating(conv, shop, buyer(name), agents[-1], t)
        b.rating(conv, shop, buyer(name), agents[-1], t)  # equal times from one buyer too

    # Reviews at the edges of the DSR window [to - 180 days, to), and old ones.
    window_start = b.start_of(b.date_to - timedelta(days=180), shop)
    for created in (
        window_start,
        window_start - timedelta(seconds=1),
        window_start + timedelta(seconds=1),
        p_end,
    ):
        old = b.order(shop, buyer("50"), created - timedelta(days=3), paid=created - timedelta(days=3))
        b.review(old, created, dsr_empty=0.1)
    for _ in range(6):
        created = window_start - timedelta(days=rng.randint(1, 60), seconds=rng.randint(0, 86399))
        old = b.order(shop, buyer("51"), created - timedelta(days=5), paid=created - timedelta(days=5))
        b.review(old, created)


def write_edge_dataset(folder: Path, seed: int) -> tuple[date, date]:
    """Write a seeded, messy dataset to `folder`; return a (from, to) period covering part of it."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    date_from = date(2026, 11, 2) + timedelta(days=seed % 4)
    date_to = date_from + timedelta(days=10)
    b = _Builder(rng, date_from, date_to)
    first = b.start_of(date_from, "shop_a") - timedelta(days=12)
    last = b.start_of(date_to, "shop_a") + timedelta(days=8)

    buyers_of = {shop: [f"{rng.randint(1, 250):06d}" for _ in range(45)] for shop in SHOPS}
    buyers_of["shop_b"][:8] = buyers_of["shop_a"][:8]  # the same buyers at two shops

    for shop in SHOPS:
        for _ in range(rng.randint(90, 140)):
            buyer = rng.choice(buyers_of[shop])
            start = b.random_instant(first, last)
            conv, block = _random_conversation(b, shop, buyer, start)
            agent_message = _last(block, "agent")
            bot_message = _last(block, "bot")
            # Orders at the edges of the attribution window, or anywhere near the chat.
            if rng.random() < 0.4:
                mode = rng.choice(("random", "random", "random", "exact24", "24plus1", "same"))
                anchor = agent_message or bot_message or block[0]
                created = {
                    "random": block[0]["sent_at"] + timedelta(seconds=rng.randint(0, 40 * 3600)),
                    "exact24": anchor["sent_at"] + timedelta(hours=24),
                    "24plus1": anchor["sent_at"] + timedelta(hours=24, seconds=1),
                    "same": anchor["sent_at"],
                }[mode]
                b.order(shop, buyer, created)
            # Ratings of the agent or of the bot.
            if agent_message is not None and rng.random() < 0.4:
                b.rating(
                    conv,
                    shop,
                    buyer,
                    agent_message["agent_id"],
                    agent_message["sent_at"] + timedelta(seconds=rng.randint(1, 3600)),
                )
            elif agent_message is None and bot_message is not None and rng.random() < 0.3:
                b.rating(
                    conv, shop, buyer, None, bot_message["sent_at"] + timedelta(seconds=rng.randint(1, 600))
                )
        # Silent orders from buyers who never wrote.
        for _ in range(rng.randint(8, 15)):
            b.order(shop, f"8{rng.randint(0, 99999):05d}", b.random_instant(first, last))
        _scenarios(b, shop)

    # Random refunds and reviews.
    for order in list(b.orders):
        if order["paid_at"] is None:
            continue
        if rng.random() < 0.25:
            lines = [i["product_id"] for i in b.items if i["order_id"] == order["order_id"]]
            status = rng.choices(("completed", "requested", "rejected", "cancelled"), (60, 15, 15, 10))[0]
            completed = order["paid_at"] + timedelta(seconds=rng.randint(3600, 12 * 86400))
            if status != "completed" and rng.random() < 0.85:
                completed = None  # mostly empty; else a time on a refund that is not completed
            b.refund(
                order, status, completed, rng.choice([None, *lines]) if lines else rng.choice((None, "0003"))
            )
        if rng.random() < 0.35:
            b.review(order, order["paid_at"] + timedelta(seconds=rng.randint(2 * 86400, 15 * 86400)))

    # Buyers: risk flags for one shop, for every shop (empty shop_id), unflagged rows, a shop seen only here.
    raters = sorted({(r["shop_id"], r["buyer_id"]) for r in b.ratings})
    rng.shuffle(raters)
    for n, (shop, who) in enumerate(raters[:12]):
        flag = ("fake_reviews", "fake_reviews", "fake_reviews", "", "")[n % 5]
        b.buyers.append(
            {"buyer_id": who, "shop_id": None if n % 3 == 2 else shop, "risk_flag": flag, "nickname": "买家"}
        )
    other = {"shop_a": "shop_b", "shop_b": "shop_a", "0042": "shop_a"}
    for shop, who in raters[12:15]:  # flagged at another shop only
        b.buyers.append(
            {"buyer_id": who, "shop_id": other[shop], "risk_flag": "fake_reviews", "nickname": ""}
        )
    b.buyers.append(
        {"buyer_id": "000001", "shop_id": BUYER_ONLY_SHOP, "risk_flag": "", "nickname": "only here"}
    )
    unique: dict[tuple, dict] = {}
    for row in b.buyers:  # (buyer_id, shop_id) identifies a buyers row
        unique.setdefault((row["buyer_id"], row["shop_id"]), row)
    b.buyers = list(unique.values())

    _write_edge_files(b, folder)
    return date_from, date_to


def _write_edge_files(b: _Builder, folder: Path) -> None:
    rng = b.rng
    # Messages: conversation blocks in random order, some written out of time order.
    rng.shuffle(b.blocks)
    messages = []
    for block in b.blocks:
        if rng.random() < 0.1:
            block = list(reversed(block))
        messages.extend(block)
    for n, m in enumerate(messages):
        m["message_id"] = f"m{n:06d}"
        m["sent_at"] = b.render(m["sent_at"], m["shop_id"])
    # A folder of parts in two encodings, read in file-name order.
    cut1, cut2 = len(messages) * 2 // 5, len(messages) * 3 // 4
    write_jsonl(folder / "messages" / "part-0001.jsonl", messages[:cut1], MESSAGE_FIELDS)
    csv_part = [{**m, "message_id": None} for m in messages[cut1:cut2]]  # no message_id in this part
    write_csv(folder / "messages" / "part-0002.csv", csv_part, MESSAGE_FIELDS)
    write_jsonl(folder / "messages" / "part-0003.jsonl", messages[cut2:], MESSAGE_FIELDS)

    def render_row(row: dict, names: tuple[str, ...], shop: str) -> dict:
        out = dict(row)
        for name in names:
            if isinstance(out.get(name), datetime):
                out[name] = b.render(out[name], shop)
        return out

    orders = [render_row(o, ("created_at", "paid_at"), o["shop_id"]) for o in b.orders]
    write_csv(folder / "orders.csv", orders, ORDER_FIELDS)
    items = [{**i, "sku": i["sku"] if i["sku"] is not None else ...} for i in b.items]
    write_jsonl(folder / "order_items.jsonl", items, ITEM_FIELDS)
    refunds = [render_row(r, ("requested_at", "completed_at"), r["_shop"]) for r in b.refunds]
    write_csv(folder / "refunds.csv", refunds, REFUND_FIELDS)

    ratings = [render_row(r, ("rated_at",), r["shop_id"]) for r in b.ratings]
    cut = len(ratings) // 2
    csv_ratings = []
    for r in ratings[:cut]:
        robot = r["robot"]
        if robot is True:
            robot = rng.choice(("true", "1", "yes", "TRUE"))
        elif robot is False:
            robot = rng.choice(("false", "0"))
        csv_ratings.append({**r, "robot": robot})
    write_csv(folder / "ratings" / "part-0001.csv", csv_ratings, RATING_FIELDS)
    json_ratings = []
    for r in ratings[cut:]:
        robot = r["robot"]
        if isinstance(robot, str):
            robot = {"": rng.choice((None, ...)), "yes": True, "1": True, "0": False}.get(robot, robot)
        json_ratings.append(
            {**r, "robot": robot, "agent_id": r["agent_id"] if r["agent_id"] else rng.choice(("", None))}
        )
    write_jsonl(folder / "ratings" / "part-0002.jsonl", json_ratings, RATING_FIELDS)

    reviews = []
    for r in b.reviews:
        out = render_row(r, ("created_at",), r["shop_id"])
        for name in ("dsr_description", "dsr_service", "dsr_shipping"):
            if out[name] is None:
                out[name] = rng.choice((None, ""))
        reviews.append(out)
    write_jsonl(folder / "reviews.jsonl", reviews, REVIEW_FIELDS)
    write_csv(folder / "buyers.csv", b.buyers, BUYER_FIELDS)
    shops = [
        {"shop_id": "shop_a", "name": "衣橱", "category": "clothing", "timezone": SHOPS["shop_a"][0]},
        {"shop_id": "shop_b", "name": "東京電器", "category": "electronics", "timezone": SHOPS["shop_b"][0]},
        {"shop_id": "0042", "name": "零食, 小铺", "category": "food", "timezone": ""},
    ]
    write_csv(folder / "shops.csv", shops, SHOP_FIELDS)
