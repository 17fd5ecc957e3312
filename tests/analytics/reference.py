"""An independent, deliberately plain reference implementation of shared/spec/metrics.md.

It reads a dataset folder in the interchange format (shared/spec/interchange.md) with the
standard library only and computes the document of `kefu report --format json`, following
the contract sentence by sentence and the readings our team fixed. It favours clarity over
speed: it is meant for datasets of a few thousand rows, as an oracle for the real engine.

Readings added here, where neither the contract nor the team's fixed readings settle a case:
- Shop rows: a shop listed only in the optional `shops` extension table (and nowhere else)
  gets no row; the `shops` table only gives time zones. A `buyers` row with a shop_id does
  make a row for that shop, even with nothing else.
- A refund whose status is `completed` but whose `completed_at` is empty counts for the
  agent `refund_rate` ("a completed refund, at any time") and never for the shop/product
  refund rate (it is not "completed in P").
- `refund_reasons` (shop and product) need the orders table as well as refunds (a refund's
  shop is its order's): with no orders table they are null, like every order-based key.
- Product rows need the orders table too; with no refunds table a product row still
  appears for its paid lines, with `refund_rate` and `refund_reasons` null.
- An order line is a row of `order_items`, whatever its quantity (quantity 0 included).
- Several `buyers` rows for one buyer: any row with a non-empty risk_flag flags the buyer
  (for its shop, or for every shop when its shop_id is empty).
- Means and rates are plain Python float divisions; `aov` is float(sales) / paid_buyers
  with the exact (Decimal) sum of amounts; `sales` is that sum rounded to 2 decimals.
- Agent rows: an agent is identified by (shop_id, agent_id); an agent who answered a turn
  in P (even with the answer after `to`) gets a row.
- `period.from`/`period.to`: midnight of the dates in `tz`, or Asia/Shanghai when no `tz`
  is given (whatever the shops' own zones), printed with datetime.isoformat().
- Naive timestamps falling in a DST gap or overlap are read with fold=0 (zoneinfo's
  default); refunds of orders absent from the dataset are dropped before anything else.
- Parquet parts are read with pyarrow (values turned into text as a CSV would hold them);
  .xlsx parts are not supported by this reference.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"
EXTENSIONS = (".jsonl", ".ndjson", ".csv", ".parquet", ".xlsx")
TRUE_WORDS = ("true", "1", "yes")
GOOD_SCORES = ("very_satisfied", "satisfied")
ATTRIBUTION_WINDOW = timedelta(hours=24)
HIGH_FREQUENCY_S = 600  # step 3: strictly less than 10 minutes after the previous kept rating
MAX_RATINGS_PER_BUYER = 3  # step 4
DSR_DAYS = 180

AGENT_KEYS = (
    "shop_id",
    "agent_id",
    "turns",
    "avg_response_s",
    "first_response_s",
    "reply_within_30s_rate",
    "served_buyers",
    "ordered_buyers",
    "paid_buyers",
    "inquiry_conversion_rate",
    "order_rate",
    "payment_rate",
    "sales",
    "aov",
    "refund_rate",
    "ratings",
    "ratings_counted",
    "satisfaction_old",
    "satisfaction_new",
)
SHOP_KEYS = (
    "shop_id",
    *AGENT_KEYS[2:],
    "unanswered_turns",
    "buyer_last_word_conversations",
    "orders",
    "paid_orders",
    "inquiry_orders",
    "bot_assisted_orders",
    "silent_orders",
    "refund_reasons",
    "dsr_description",
    "dsr_service",
    "dsr_shipping",
    "positive_review_rate",
)
PRODUCT_KEYS = ("shop_id", "product_id", "refund_rate", "refund_reasons")


# ---------------------------------------------------------------------------------------------
# Reading the files
# ---------------------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    """A cell as text; None for no value (null, missing or empty)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _table_files(folder: Path, name: str) -> list[Path] | None:
    """The files of table `name` in file order, or None when the table is absent."""
    candidates = [folder / f"{name}{ext}" for ext in EXTENSIONS if (folder / f"{name}{ext}").is_file()]
    if (folder / name).is_dir():
        candidates.append(folder / name)
    if not candidates:
        return None
    if len(candidates) > 1:
        raise ValueError(f"table {name} is given more than once: {candidates}")
    target = candidates[0]
    if target.is_file():
        return [target]
    # A folder's parts are read in file-name order.
    return sorted((p for p in target.iterdir() if p.suffix.lower() in EXTENSIONS), key=lambda p: p.name)


def _read_file(path: Path) -> list[dict[str, str | None]]:
    suffix = path.suffix.lower()
    rows: list[dict[str, str | None]] = []
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as fh:
            for line in fh:
                if line.strip():
                    record = json.loads(line)
                    rows.append({key: _text(value) for key, value in record.items()})
    elif suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for record in csv.DictReader(fh):
                rows.append({key: _text(value) for key, value in record.items()})
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for record in pq.read_table(path).to_pylist():
            rows.append({key: _text(value) for key, value in record.items()})
    else:
        raise NotImplementedError(f"the reference does not read {path.name}")
    return rows


def read_table(folder: Path, name: str) -> list[dict[str, str | None]] | None:
    """All rows of a table in file order (a folder's parts one after another), or None if absent."""
    files = _table_files(folder, name)
    if files is None:
        return None
    rows: list[dict[str, str | None]] = []
    for path in files:
        rows.extend(_read_file(path))
    return rows


def parse_instant(text: str, zone: str) -> datetime:
    """An RFC 3339 timestamp as an aware UTC datetime; without an offset it is read in `zone`."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


def _money(text: str) -> Decimal:
    return Decimal(text.strip())


def _is_true(text: str | None) -> bool:
    return text is not None and text.strip().lower() in TRUE_WORDS


# ---------------------------------------------------------------------------------------------
# Rows of the dataset, typed
# ---------------------------------------------------------------------------------------------


@dataclass
class Message:
    index: int  # position in the messages table (file order)
    conversation_id: str
    shop_id: str
    buyer_id: str
    sender: str
    agent_id: str | None
    sent_at: datetime


@dataclass
class Order:
    order_id: str
    shop_id: str
    buyer_id: str
    created_at: datetime
    paid_at: datetime | None
    amount: Decimal


@dataclass
class Refund:
    order_id: str
    shop_id: str  # its order's shop
    product_id: str | None
    reason: str
    status: str
    completed_at: datetime | None


@dataclass
class Rating:
    index: int  # position in the ratings table (file order)
    shop_id: str
    buyer_id: str
    agent_id: str | None
    rated_at: datetime
    score: str
    robot: bool


@dataclass
class Review:
    shop_id: str
    created_at: datetime
    rating: str
    dsr: dict[str, int | None]


@dataclass
class Turn:
    shop_id: str
    start: datetime
    agent_id: str | None  # who answered it; None: unanswered
    response_s: float | None


@dataclass
class Conversation:
    shop_id: str
    buyer_id: str
    turns: list[Turn]
    buyer_last_word: bool  # its last buyer-or-agent message is the buyer's


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float | None:
    """A rate; null when the denominator is 0."""
    if denominator == 0:
        return None
    return numerator / denominator


def _mean(values: list[float]) -> float | None:
    if not values:
        return None
    return sum(values) / len(values)


def _reasons(refunds: list[Refund]) -> dict[str, int]:
    """{reason: count}, most first, then by reason."""
    counts: dict[str, int] = defaultdict(int)
    for refund in refunds:
        counts[refund.reason] += 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(zone))


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def reference_report(
    folder: Path,
    date_from: date,
    date_to: date,
    tz: str | None = None,
    shop_id: str | None = None,
) -> dict:
    """The document of `kefu report --format json` for the dataset in `folder`, period [from, to)."""
    folder = Path(folder)

    # --- Time zones: `tz` for every shop, else the shops table's timezone, else Asia/Shanghai.
    shop_zones: dict[str, str] = {}
    for row in read_table(folder, "shops") or []:
        if row.get("shop_id") and row.get("timezone"):
            shop_zones[row["shop_id"]] = row["timezone"].strip()

    def zone_of(shop: str) -> str:
        if tz is not None:
            return tz
        return shop_zones.get(shop, DEFAULT_ZONE)

    def in_period(shop: str, instant: datetime | None) -> bool:
        if instant is None:
            return False
        start = _midnight(date_from, zone_of(shop))
        end = _midnight(date_to, zone_of(shop))
        return start <= instant < end

    # --- messages (required)
    message_rows = read_table(folder, "messages")
    if message_rows is None:
        raise ValueError(f"{folder} has no messages table")
    messages = [
        Message(
            index=i,
            conversation_id=row["conversation_id"],
            shop_id=row["shop_id"],
            buyer_id=row["buyer_id"],
            sender=row["sender"].strip(),
            agent_id=row.get("agent_id"),
            sent_at=parse_instant(row["sent_at"], zone_of(row["shop_id"])),
        )
        for i, row in enumerate(message_rows)
    ]

    # --- orders (optional)
    order_rows = read_table(folder, "orders")
    orders: list[Order] | None = None
    if order_rows is not None:
        orders = []
        for row in order_rows:
            zone = zone_of(row["shop_id"])
            orders.append(
                Order(
                    order_id=row["order_id"],
                    shop_id=row["shop_id"],
                    buyer_id=row["buyer_id"],
                    created_at=parse_instant(row["created_at"], zone),
                    paid_at=parse_instant(row["paid_at"], zone) if row.get("paid_at") else None,
                    amount=_money(row["amount"]),
                )
            )
    order_by_id = {o.order_id: o for o in orders or []}

    # --- order_items (optional): the lines of each order
    item_rows = read_table(folder, "order_items")
    has_items = item_rows is not None
    lines_of: dict[str, list[str]] = defaultdict(list)  # order_id -> product_id of each line
    for row in item_rows or []:
        lines_of[row["order_id"]].append(row["product_id"])

    def line_count(order: Order) -> int:
        # An order with no row in order_items (or with no such table) counts as one line.
        return len(lines_of[order.order_id]) or 1

    # --- refunds (optional): those of orders absent from the dataset are ignored
    refund_rows = read_table(folder, "refunds")
    refunds: list[Refund] | None = None
    if refund_rows is not None:
        refunds = []
        for row in refund_rows:
            order = order_by_id.get(row["order_id"])
            if order is None:
                continue
            zone = zone_of(order.shop_id)
            refunds.append(
                Refund(
                    order_id=row["order_id"],
                    shop_id=order.shop_id,
                    product_id=row.get("product_id"),
                    reason=row["reason"],
                    status=row["status"].strip(),
                    completed_at=parse_instant(row["completed_at"], zone)
                    if row.get("completed_at")
                    else None,
                )
            )

    # --- ratings (optional)
    rating_rows = read_table(folder, "ratings")
    ratings: list[Rating] | None = None
    if rating_rows is not None:
        ratings = [
            Rating(
                index=i,
                shop_id=row["shop_id"],
                buyer_id=row["buyer_id"],
                agent_id=row.get("agent_id"),
                rated_at=parse_instant(row["rated_at"], zone_of(row["shop_id"])),
                score=row["score"].strip(),
                robot=_is_true(row.get("robot")),
            )
            for i, row in enumerate(rating_rows)
        ]

    # --- reviews (optional)
    review_rows = read_table(folder, "reviews")
    reviews: list[Review] | None = None
    if review_rows is not None:
        reviews = []
        for row in review_rows:
            dsr = {}
            for name in ("dsr_description", "dsr_service", "dsr_shipping"):
                value = row.get(name)
                dsr[name] = int(Decimal(value.strip())) if value is not None and value.strip() else None
            reviews.append(
                Review(
                    shop_id=row["shop_id"],
                    created_at=parse_instant(row["created_at"], zone_of(row["shop_id"])),
                    rating=row["rating"].strip(),
                    dsr=dsr,
                )
            )

    # --- buyers (optional): risk flags per shop, or for every shop (empty shop_id)
    buyer_rows = read_table(folder, "buyers") or []
    flagged: set[tuple[str, str | None]] = set()  # (buyer_id, shop_id or None)
    for row in buyer_rows:
        if row.get("risk_flag"):
            flagged.add((row["buyer_id"], row.get("shop_id")))

    def is_flagged(shop: str, buyer: str) -> bool:
        return (buyer, shop) in flagged or (buyer, None) in flagged

    # =========================================================================================
    # Conversations and turns
    # =========================================================================================
    by_conversation: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        by_conversation[message.conversation_id].append(message)

    conversations: list[Conversation] = []
    for conversation_messages in by_conversation.values():
        ordered = sorted(conversation_messages, key=lambda m: (m.sent_at, m.index))
        # bot and system messages are skipped entirely.
        talk = [m for m in ordered if m.sender in ("buyer", "agent")]
        turns: list[Turn] = []
        i = 0
        while i < len(talk):
            if talk[i].sender != "buyer":
                i += 1
                continue
            start = talk[i].sent_at
            j = i
            while j < len(talk) and talk[j].sender == "buyer":
                j += 1
            if j < len(talk):  # talk[j] is the first agent message after the run: it answers it
                answer = talk[j]
                turns.append(
                    Turn(answer.shop_id, start, answer.agent_id, (answer.sent_at - start).total_seconds())
                )
            else:
                turns.append(Turn(talk[i].shop_id, start, None, None))
            i = j
        first = conversation_messages[0]
        conversations.append(
            Conversation(
                shop_id=first.shop_id,
                buyer_id=first.buyer_id,
                turns=turns,
                buyer_last_word=bool(talk) and talk[-1].sender == "buyer",
            )
        )

    turns_in_p = [t for c in conversations for t in c.turns if in_period(t.shop_id, t.start)]
    # Conversations that start in P: they have a first turn, whose start is in P.
    started_in_p = [c for c in conversations if c.turns and in_period(c.shop_id, c.turns[0].start)]

    # =========================================================================================
    # Attribution of orders
    # =========================================================================================
    pair_messages: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for message in messages:
        pair_messages[(message.shop_id, message.buyer_id)].append(message)

    attributing: dict[str, Message] = {}  # order_id -> attributing agent message
    kind_of: dict[str, str] = {}  # order_id -> "inquiry" / "bot" / "silent"
    for order in orders or []:
        window = [
            m
            for m in pair_messages[(order.shop_id, order.buyer_id)]
            if order.created_at - ATTRIBUTION_WINDOW <= m.sent_at <= order.created_at
        ]
        agent_messages = [m for m in window if m.sender == "agent"]
        if agent_messages:
            # The latest; between equal times the later in the file.
            attributing[order.order_id] = max(agent_messages, key=lambda m: (m.sent_at, m.index))
            kind_of[order.order_id] = "inquiry"
        elif any(m.sender == "bot" for m in window):
            kind_of[order.order_id] = "bot"
        else:
            kind_of[order.order_id] = "silent"

    def has_completed_refund(order: Order) -> bool:
        return any(r.order_id == order.order_id and r.status == "completed" for r in refunds or [])

    # =========================================================================================
    # Satisfaction: the new rule, per shop over all its ratings in P
    # =========================================================================================
    ratings_in_p = [r for r in ratings or [] if in_period(r.shop_id, r.rated_at)]
    counted: set[int] = set()  # indices of the ratings kept by the new rule
    for shop in sorted({r.shop_id for r in ratings_in_p}):
        mine = sorted((r for r in ratings_in_p if r.shop_id == shop), key=lambda r: (r.rated_at, r.index))
        # 1. buyers with a risk flag (for this shop, or for every shop)
        kept = [r for r in mine if not is_flagged(shop, r.buyer_id)]
        # 2. robot ratings
        kept = [r for r in kept if not r.robot]
        # 3. high-frequency ratings: less than 10 minutes after the buyer's previous kept rating
        last_kept: dict[str, datetime] = {}
        step3 = []
        for r in kept:
            previous = last_kept.get(r.buyer_id)
            if previous is not None and (r.rated_at - previous).total_seconds() < HIGH_FREQUENCY_S:
                continue
            last_kept[r.buyer_id] = r.rated_at
            step3.append(r)
        # 4. every kept rating of a buyer after the first 3
        seen: dict[str, int] = defaultdict(int)
        for r in step3:
            seen[r.buyer_id] += 1
            if seen[r.buyer_id] <= MAX_RATINGS_PER_BUYER:
                counted.add(r.index)

    def satisfaction(selected: list[Rating]) -> dict:
        if ratings is None:
            return {
                "ratings": None,
                "ratings_counted": None,
                "satisfaction_old": None,
                "satisfaction_new": None,
            }
        kept = [r for r in selected if r.index in counted]
        return {
            "ratings": len(selected),
            "ratings_counted": len(kept),
            "satisfaction_old": _ratio(sum(r.score in GOOD_SCORES for r in selected), len(selected)),
            "satisfaction_new": _ratio(sum(r.score in GOOD_SCORES for r in kept), len(kept)),
        }

    # =========================================================================================
    # Blocks of keys shared by agent and shop rows
    # =========================================================================================
    def response_block(turns: list[Turn], first_turns: list[Turn]) -> dict:
        times = [t.response_s for t in turns]
        return {
            "turns": len(turns),
            "avg_response_s": _mean(times),
            "first_response_s": _mean([t.response_s for t in first_turns]),
            "reply_within_30s_rate": _ratio(sum(1 for s in times if s <= 30), len(times)),
        }

    def sales_block(is_mine, with_refund_rate: bool) -> dict:
        """`is_mine(message)`: is this agent message one of the agent's (or of the shop's agents)?"""
        served = {
            m.buyer_id
            for m in messages
            if m.sender == "agent" and is_mine(m) and in_period(m.shop_id, m.sent_at)
        }
        block: dict = {"served_buyers": len(served)}
        if orders is None:
            for key in (
                "ordered_buyers",
                "paid_buyers",
                "inquiry_conversion_rate",
                "order_rate",
                "payment_rate",
                "sales",
                "aov",
            ):
                block[key] = None
            if with_refund_rate:
                block["refund_rate"] = None
            return block
        # Orders attributed to the agent whose attributing message lies in P (the order may be later).
        qualifying = [
            o
            for o in orders
            if o.order_id in attributing
            and is_mine(attributing[o.order_id])
            and in_period(o.shop_id, attributing[o.order_id].sent_at)
            and o.buyer_id in served
        ]
        ordered_buyers = {o.buyer_id for o in qualifying}
        paid_orders = [o for o in qualifying if o.paid_at is not None]
        paid_buyers = {o.buyer_id for o in paid_orders}
        total = sum((o.amount for o in paid_orders), Decimal("0"))
        block.update(
            {
                "ordered_buyers": len(ordered_buyers),
                "paid_buyers": len(paid_buyers),
                "inquiry_conversion_rate": _ratio(len(paid_buyers), len(served)),
                "order_rate": _ratio(len(ordered_buyers), len(served)),
                "payment_rate": _ratio(len(paid_buyers), len(ordered_buyers)),
                "sales": float(total.quantize(Decimal("0.01"))),
                "aov": _ratio(float(total), len(paid_buyers)),
            }
        )
        if with_refund_rate:
            if refunds is None:
                block["refund_rate"] = None
            else:
                refunded = [o for o in paid_orders if has_completed_refund(o)]
                block["refund_rate"] = _ratio(len(refunded), len(paid_orders))
        return block

    def completed_in_p(refund: Refund) -> bool:
        return refund.status == "completed" and in_period(refund.shop_id, refund.completed_at)

    # =========================================================================================
    # Agent rows
    # =========================================================================================
    agent_keys: set[tuple[str, str]] = set()
    for t in turns_in_p:
        if t.agent_id is not None:
            agent_keys.add((t.shop_id, t.agent_id))
    for m in messages:
        if m.sender == "agent" and in_period(m.shop_id, m.sent_at):
            agent_keys.add((m.shop_id, m.agent_id))
    for r in ratings_in_p:
        if r.agent_id:
            agent_keys.add((r.shop_id, r.agent_id))

    agent_rows = []
    for shop, agent in sorted(agent_keys):
        row: dict = {"shop_id": shop, "agent_id": agent}
        row.update(
            response_block(
                [t for t in turns_in_p if t.shop_id == shop and t.agent_id == agent],
                [c.turns[0] for c in started_in_p if c.shop_id == shop and c.turns[0].agent_id == agent],
            )
        )
        row.update(
            sales_block(
                lambda m, shop=shop, agent=agent: m.shop_id == shop and m.agent_id == agent,
                with_refund_rate=True,
            )
        )
        row.update(satisfaction([r for r in ratings_in_p if r.shop_id == shop and r.agent_id == agent]))
        agent_rows.append({key: row[key] for key in AGENT_KEYS})

    # =========================================================================================
    # Shop rows
    # =========================================================================================
    shop_ids: set[str] = set()
    shop_ids.update(m.shop_id for m in messages)
    shop_ids.update(o.shop_id for o in orders or [])
    shop_ids.update(r.shop_id for r in ratings or [])
    shop_ids.update(r.shop_id for r in reviews or [])
    shop_ids.update(row["shop_id"] for row in buyer_rows if row.get("shop_id"))
    shop_ids.update(r.shop_id for r in refunds or [])

    shop_rows = []
    for shop in sorted(shop_ids):
        row = {"shop_id": shop}
        shop_turns = [t for t in turns_in_p if t.shop_id == shop]
        row.update(
            response_block(
                [t for t in shop_turns if t.agent_id is not None],
                [c.turns[0] for c in started_in_p if c.shop_id == shop and c.turns[0].agent_id is not None],
            )
        )
        row.update(sales_block(lambda m, shop=shop: m.shop_id == shop, with_refund_rate=False))
        row.update(satisfaction([r for r in ratings_in_p if r.shop_id == shop]))
        row["unanswered_turns"] = sum(1 for t in shop_turns if t.agent_id is None)
        row["buyer_last_word_conversations"] = sum(
            1 for c in started_in_p if c.shop_id == shop and c.buyer_last_word
        )

        # Orders created in P, by attribution.
        if orders is None:
            for key in ("orders", "paid_orders", "inquiry_orders", "bot_assisted_orders", "silent_orders"):
                row[key] = None
        else:
            created = [o for o in orders if o.shop_id == shop and in_period(shop, o.created_at)]
            row["orders"] = len(created)
            row["paid_orders"] = sum(1 for o in created if o.paid_at is not None)
            row["inquiry_orders"] = sum(1 for o in created if kind_of[o.order_id] == "inquiry")
            row["bot_assisted_orders"] = sum(1 for o in created if kind_of[o.order_id] == "bot")
            row["silent_orders"] = sum(1 for o in created if kind_of[o.order_id] == "silent")

        # Shop refund rate: refunds completed in P / order lines of the shop's orders paid in P.
        if orders is None or refunds is None:
            row["refund_rate"] = None
            row["refund_reasons"] = None
        else:
            done = [r for r in refunds if r.shop_id == shop and completed_in_p(r)]
            lines = sum(line_count(o) for o in orders if o.shop_id == shop and in_period(shop, o.paid_at))
            row["refund_rate"] = _ratio(len(done), lines)
            row["refund_reasons"] = _reasons(done)

        # DSR over [to - 180 days, to) on the shop's calendar; positive reviews over P.
        if reviews is None:
            for key in ("dsr_description", "dsr_service", "dsr_shipping", "positive_review_rate"):
                row[key] = None
        else:
            window_start = _midnight(date_to - timedelta(days=DSR_DAYS), zone_of(shop))
            window_end = _midnight(date_to, zone_of(shop))
            recent = [v for v in reviews if v.shop_id == shop and window_start <= v.created_at < window_end]
            for name in ("dsr_description", "dsr_service", "dsr_shipping"):
                row[name] = _mean([v.dsr[name] for v in recent if v.dsr[name] is not None])
            in_p = [v for v in reviews if v.shop_id == shop and in_period(shop, v.created_at)]
            row["positive_review_rate"] = _ratio(sum(1 for v in in_p if v.rating == "good"), len(in_p))
        shop_rows.append({key: row[key] for key in SHOP_KEYS})

    # =========================================================================================
    # Product rows
    # =========================================================================================
    paid_lines: dict[tuple[str, str], int] = defaultdict(int)
    product_refunds: dict[tuple[str, str], list[Refund]] = defaultdict(list)
    if orders is not None:
        for order in orders:
            if in_period(order.shop_id, order.paid_at):
                for product in lines_of[order.order_id] if has_items else []:
                    paid_lines[(order.shop_id, product)] += 1
        for refund in refunds or []:
            if refund.product_id and completed_in_p(refund):
                product_refunds[(refund.shop_id, refund.product_id)].append(refund)
    product_rows = []
    for shop, product in sorted(set(paid_lines) | set(product_refunds)):
        named = product_refunds[(shop, product)]
        product_rows.append(
            {
                "shop_id": shop,
                "product_id": product,
                "refund_rate": None if refunds is None else _ratio(len(named), paid_lines[(shop, product)]),
                "refund_reasons": None if refunds is None else _reasons(named),
            }
        )

    if shop_id is not None:
        agent_rows = [r for r in agent_rows if r["shop_id"] == shop_id]
        shop_rows = [r for r in shop_rows if r["shop_id"] == shop_id]
        product_rows = [r for r in product_rows if r["shop_id"] == shop_id]

    period_zone = tz or DEFAULT_ZONE
    return {
        "period": {
            "from": _midnight(date_from, period_zone).isoformat(),
            "to": _midnight(date_to, period_zone).isoformat(),
        },
        "agents": agent_rows,
        "shops": shop_rows,
        "products": product_rows,
    }
