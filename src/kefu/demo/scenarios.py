"""Conversation scripts: the steps of each shop-service scenario and how often each one happens."""

from __future__ import annotations

import random
from dataclasses import dataclass

from kefu.demo.draw import cumulative

# A step is a tuple whose first item says what happens:
#   ("b", key)            the buyer writes (one wording, possibly several messages in a row)
#   ("img",)              the buyer sends a picture (a message with empty text)
#   ("a", key)            the serving agent answers
#   ("check", key)        the agent answers again after looking something up (a longer pause)
#   ("bot", key)          the shop's bot answers
#   ("human",)            the bot hands the buyer to a person (system message)
#   ("sup",)              the agent hands the chat to the supervisor (system message)
#   ("order",)            the buyer places the order being talked about, now
#   ("pay",)              the buyer pays the open order, now
#   ("refund", reason, kind)  the buyer files a refund; reason "" = one the category's buyers pick,
#                         a phrase key = the reason that fits what the buyer said (phrases.REASON_HINTS);
#                         kind full / unit / part, or a phrase key = what the agreed fix implies
#                         (phrases.REFUND_AFTER; maybe no refund at all)
#   ("opt", p, steps)     the steps happen with probability p
#   ("any", ((w, steps), ...))  one of the alternatives, by weight
Step = tuple


def B(key: str) -> Step:
    """The buyer writes."""
    return ("b", key)


def A(key: str) -> Step:
    """The agent writes."""
    return ("a", key)


def opt(p: float, *steps: Step) -> Step:
    """Steps that happen with probability p."""
    return ("opt", p, steps)


def any_of(*choices: tuple[float, tuple[Step, ...]]) -> Step:
    """One of several alternatives, by weight."""
    return ("any", choices)


IMG: Step = ("img",)
ORDER: Step = ("order",)
PAY: Step = ("pay",)
# After-sale chats often start with the agent asking which order it is and the buyer sending its card.
WHICH_ORDER: Step = opt(0.5, A("after.which_order"), IMG)


@dataclass(frozen=True, slots=True)
class Script:
    """One scenario: who serves it, what order it needs beforehand and how it goes."""

    name: str
    group: str  # presale / aftersale: which agents take it
    setup: str | None  # the order state it needs before the chat starts (see Simulation.prepare_order)
    steps: tuple[Step, ...]
    mood: str  # how buyers tend to rate it afterwards
    escalates: float = 0.0  # chance the buyer ends up threatening a bad review


# Pre-sale topics; an ordinary pre-sale chat strings one to four of them together.
TOPICS: dict[str, tuple[Step, ...]] = {
    "stock": (B("stock.ask"), A("stock.yes"), opt(0.3, B("spec.more"), A("spec.more_answer"))),
    "stock_out": (B("stock.ask"), A("stock.no"), opt(0.7, B("stock.alt"), A("stock.alt_answer"))),
    "fit": (B("fit.ask"), A("fit.answer"), opt(0.7, B("fit.worry"), A("fit.reassure"))),
    "spec": (B("spec.ask"), A("spec.answer"), opt(0.5, B("spec.more"), A("spec.more_answer"))),
    "ship": (B("ship.ask"), A("ship.answer"), opt(0.45, B("ship.alt_ask"), A("ship.alt_answer"))),
    "bargain": (B("bargain.ask"), A("bargain.hold"), B("bargain.push"), A("bargain.offer")),
    "gift": (B("gift.ask"), A("gift.answer")),
}
TOPIC_WEIGHTS = {"stock": 16, "stock_out": 3, "fit": 14, "spec": 12, "ship": 14, "bargain": 9, "gift": 5}
PEAK_TOPIC_WEIGHTS = {
    "stock": 18,
    "stock_out": 6,
    "fit": 10,
    "spec": 6,
    "ship": 12,
    "bargain": 16,
    "gift": 12,
}
# How many topics one chat covers (1, 2, 3 or 4).
TOPIC_COUNT_CUM = cumulative((24, 38, 28, 10))
# Chance that a chat about a topic ends in an order (before the agent's skill is applied).
TOPIC_CONVERSION = {
    "stock": 0.38,
    "stock_out": 0.1,
    "fit": 0.36,
    "spec": 0.24,
    "ship": 0.28,
    "bargain": 0.25,
    "gift": 0.3,
}

# How a converting pre-sale chat closes; the order itself follows after the chat unless placed inline.
CLOSE_BUY: tuple[tuple[float, tuple[Step, ...]], ...] = (
    (0.45, (B("buy.intent"), A("buy.confirm"))),
    (
        0.25,
        (
            ORDER,
            B("checkout.ordered"),
            A("checkout.confirm"),
            opt(0.7, B("checkout.ok")),
            opt(0.7, A("checkout.remark")),
        ),
    ),
    (0.30, ()),
)
CLOSE_BUY_BARGAIN: tuple[Step, ...] = (B("bargain.accept"), A("bargain.close_accept"))
CLOSE_LEAVE_BARGAIN: tuple[Step, ...] = (B("bargain.leave"), opt(0.8, A("bargain.close_leave")))

# How chats end: thanks and goodbye, or someone simply stops writing.
TAILS: tuple[tuple[float, tuple[Step, ...]], ...] = (
    (0.46, (B("close.thanks"), A("close.bye"))),
    (0.14, (B("close.thanks"), A("close.bye"), B("close.last"))),
    (0.18, (A("close.bye"),)),
    (0.12, ()),
    (0.10, (B("close.thanks"),)),
)

ESCALATION: tuple[Step, ...] = (
    B("complain.ask"),
    A("complain.soothe"),
    ("sup",),
    A("complain.sup"),
    A("complain.offer"),
    any_of(
        (0.65, (B("complain.accept"), ("refund", "", "complain.offer"), A("complain.close"))),
        (0.35, (B("complain.reject"), opt(0.7, A("complain.regret")))),
    ),
)

SCRIPTS: dict[str, Script] = {
    s.name: s
    for s in (
        Script("chat", "presale", None, (), "good"),
        Script(
            "human",
            "presale",
            None,
            (
                B("human.ask"),
                ("bot", "human.bot_answer"),
                B("human.want"),
                ("human",),
                A("human.greet"),
                B("human.repeat"),
                A("human.answer"),
            ),
            "good",
        ),
        Script(
            "pay_trouble",
            "presale",
            "unpaid_fresh",
            (
                B("pay.fail"),
                A("pay.help"),
                opt(0.4, B("close.last")),
                PAY,
                B("pay.ok"),
                opt(0.8, A("pay.thanks")),
            ),
            "good",
        ),
        Script(
            "remind_yes",
            "presale",
            "unpaid_wait",
            (
                A("remind.pay"),
                B("remind.reply_yes"),
                PAY,
                opt(0.8, A("remind.close_yes")),
            ),
            "good",
        ),
        Script(
            "remind_no",
            "presale",
            "unpaid_wait",
            (
                A("remind.pay"),
                opt(0.6, B("remind.reply_no"), A("remind.close_no")),
            ),
            "good",
        ),
        Script(
            "browse", "presale", None, (A("follow.browse"), B("follow.reply"), A("follow.answer")), "good"
        ),
        # The bot answers a common question and the buyer needs nobody else.
        Script(
            "bot_faq",
            "presale",
            None,
            (
                B("human.ask"),
                ("bot", "human.bot_answer"),
                opt(0.5, B("close.thanks")),
            ),
            "good",
        ),
        Script(
            "address",
            "aftersale",
            "paid_fresh",
            (
                B("addr.ask"),
                WHICH_ORDER,
                A("addr.request"),
                B("addr.new"),
                A("addr.done"),
            ),
            "mixed",
        ),
        Script(
            "urge",
            "aftersale",
            "paid_waiting",
            (
                B("urge.ask"),
                WHICH_ORDER,
                A("urge.answer"),
                opt(0.5, B("urge.push"), A("urge.promise")),
            ),
            "mixed",
            0.12,
        ),
        Script(
            "stuck",
            "aftersale",
            "stuck",
            (
                B("stuck.ask"),
                WHICH_ORDER,
                A("stuck.check"),
                ("check", "stuck.answer"),
                opt(0.5, B("stuck.push"), A("stuck.promise")),
            ),
            "tense",
            0.2,
        ),
        Script(
            "wrong",
            "aftersale",
            "delivered",
            (
                B("wrong.ask"),
                WHICH_ORDER,
                A("wrong.sorry"),
                IMG,
                A("wrong.solution"),
                B("wrong.ok"),
                ("refund", "发错货", "wrong.ok"),
            ),
            "mixed",
        ),
        Script(
            "missing",
            "aftersale",
            "delivered",
            (
                B("missing.ask"),
                opt(0.5, IMG),
                WHICH_ORDER,
                A("missing.check"),
                ("check", "missing.solution"),
                ("refund", "少件/漏发", "missing.solution"),
            ),
            "mixed",
        ),
        Script(
            "damaged",
            "aftersale",
            "delivered",
            (
                B("damaged.ask"),
                WHICH_ORDER,
                A("damaged.sorry"),
                IMG,
                opt(0.5, IMG),
                A("damaged.solution"),
                ("refund", "商品破损", "damaged.solution"),
            ),
            "tense",
            0.15,
        ),
        Script(
            "quality",
            "aftersale",
            "delivered",
            (
                B("quality.ask"),
                WHICH_ORDER,
                A("quality.sorry"),
                IMG,
                opt(0.5, B("quality.detail")),
                A("quality.solution"),
                ("refund", "quality.ask", "quality.solution"),
            ),
            "tense",
            0.2,
        ),
        Script(
            "return",
            "aftersale",
            "delivered_recent",
            (
                B("return.ask"),
                WHICH_ORDER,
                A("return.ok"),
                B("return.fine"),
                opt(0.95, ("refund", "return.ask", "full")),
                opt(0.8, A("return.steps")),
            ),
            "mixed",
        ),
        Script(
            "progress",
            "aftersale",
            "refund_pending",
            (
                B("progress.ask"),
                WHICH_ORDER,
                A("progress.check"),
                ("check", "progress.answer"),
            ),
            "mixed",
            0.1,
        ),
        Script("burst", "presale", None, (B("burst.ask"), A("burst.answer"), B("burst.ok")), "good"),
    )
}

SCRIPT_WEIGHTS = {
    "chat": 50,
    "human": 5,
    "bot_faq": 3,
    "pay_trouble": 3,
    "remind_yes": 2.5,
    "remind_no": 2,
    "browse": 2,
    "address": 3,
    "urge": 7,
    "stuck": 4.5,
    "wrong": 2,
    "missing": 2.5,
    "damaged": 2.5,
    "quality": 3.5,
    "return": 4.5,
    "progress": 3,
}
# What each category's buyers run into more (or less) often than the average shop's.
CATEGORY_BIAS = {
    "clothing": {"return": 1.6, "wrong": 1.3, "damaged": 0.5},
    "cosmetics": {"damaged": 1.2, "missing": 1.2},
    "electronics": {"quality": 1.7, "return": 1.2, "chat": 1.1},
    "food": {"damaged": 2.2, "missing": 1.5, "return": 0.4, "quality": 1.2},
}
PRESALE_NAMES = ("chat", "human", "bot_faq", "pay_trouble", "remind_yes", "remind_no", "browse")


def script_table(category: str, mode: str) -> tuple[list[str], list[float]]:
    """Script names and cumulative weights for a category on a normal, promotion or after-promotion day."""
    names, weights = [], []
    for name, w in SCRIPT_WEIGHTS.items():
        w *= CATEGORY_BIAS[category].get(name, 1.0)
        if mode == "peak" and name in PRESALE_NAMES:
            w *= 1.8
        if mode == "after_peak" and name in ("urge", "stuck"):
            w *= 2.0
        names.append(name)
        weights.append(w)
    return names, cumulative(weights)


def flatten(rng: random.Random, steps: tuple[Step, ...], out: list[Step]) -> None:
    """Resolve optional and alternative steps into the concrete list of steps this chat will take."""
    for step in steps:
        kind = step[0]
        if kind == "opt":
            if rng.random() < step[1]:
                flatten(rng, step[2], out)
        elif kind == "any":
            x = rng.random() * sum(w for w, _ in step[1])
            for w, alternative in step[1]:
                x -= w
                if x < 0:
                    flatten(rng, alternative, out)
                    break
        else:
            out.append(step)


def choose(rng: random.Random, choices: tuple[tuple[float, tuple[Step, ...]], ...]) -> tuple[Step, ...]:
    """One alternative by weight."""
    x = rng.random() * sum(w for w, _ in choices)
    for w, steps in choices:
        x -= w
        if x < 0:
            return steps
    return choices[-1][1]
