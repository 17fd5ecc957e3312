"""Playing one conversation's script out as timed messages from buyer, agents, bot and system."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from kefu.demo.catalogue import CATEGORIES, Agent, Product, Shop, Sku
from kefu.demo.draw import between, skewed
from kefu.demo.fulfilment import Ledger, Order
from kefu.demo.people import Buyer
from kefu.demo.phrases import CONVERSATION, PAIRED, REASON_HINTS, REFUND_AFTER
from kefu.demo.scenarios import Step
from kefu.demo.timeline import Timeline

PEAK_SLOWDOWN = 3.0  # agents answer this many times slower on the promotion day

# key -> variants -> parts (each part is one message), with a flag telling whether it has placeholders
Bank = dict[str, list[tuple[tuple[str, bool], ...]]]


def compile_bank(category: str) -> Bank:
    """The wordings one category's shop uses, split into messages once (they are used a million times)."""
    bank: Bank = {}
    specific: Bank = {}
    for key, variants in CONVERSATION.items():
        compiled = [tuple((part, "{" in part) for part in v.split("|")) for v in variants]
        base, _, last = key.rpartition(".")
        if last == category:
            specific[base] = compiled
        elif last not in CATEGORIES:
            bank[key] = compiled
    bank.update(specific)
    return bank


class _PeriodOver(Exception):
    """The conversation ran past the end of the period; what was said until then stands."""


@dataclass(slots=True)
class Setting:
    """Who talks, about what, and under which circumstances."""

    cid: str
    shop: Shop
    buyer: Buyer
    agent: Agent
    product: Product
    sku: Sku
    order: Order | None
    ctx: dict[str, str]
    aftersale: bool
    quick: bool  # a few-second exchange (the rating bursts)
    peak: bool
    offhours: bool
    transfer_at: int  # index of the agent turn before which the chat moves to a colleague; -1: never


class Dialogue:
    """Turns a flattened script into messages, with believable pauses between them."""

    __slots__ = (
        "agent",
        "agent_spoke",
        "bank",
        "chosen",
        "clock",
        "ended",
        "inline_order",
        "last",
        "last_agent_t",
        "ledger",
        "long_wait",
        "messages",
        "overnight",
        "rng",
        "s",
        "t",
    )

    def __init__(
        self,
        rng: random.Random,
        clock: Timeline,
        ledger: Ledger,
        bank: Bank,
        messages: list[dict],
        setting: Setting,
        t0: int,
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.ledger = ledger
        self.bank = bank
        self.messages = messages
        self.s = setting
        self.t = t0
        self.ended = t0  # when the last message was sent
        self.agent = setting.agent
        self.last = ""  # who wrote last: "", "b" (buyer), "a" (agent), "bot", "sys"
        self.agent_spoke = False
        self.last_agent_t = -1
        self.long_wait = False  # an agent kept the buyer waiting over ten minutes
        self.inline_order = False  # the buyer ordered while chatting
        self.overnight = False  # the agent has just answered a message left outside business hours
        self.chosen: dict[str, int] = {}  # variant index used per key, so answers can match their question

    @property
    def bot_only(self) -> bool:
        """No person ever answered."""
        return not self.agent_spoke

    def put(self, sender: str, agent_id: str | None, text: str) -> None:
        """Append a message at the current time, unless the period is over."""
        if self.t >= self.clock.end:
            raise _PeriodOver
        s = self.s
        self.messages.append(
            {
                "conversation_id": s.cid,
                "shop_id": s.shop.shop_id,
                "buyer_id": s.buyer.buyer_id,
                "sender": sender,
                "agent_id": agent_id,
                "sent_at": self.clock.at(self.t),
                "text": text,
            }
        )
        self.ended = self.t

    def words(self, key: str) -> list[str]:
        """One wording for the step, filled in and split into messages."""
        variants = self.bank[key]
        question = PAIRED.get(key)
        if question is not None and question in self.chosen:
            idx = self.chosen[question] % len(variants)
        else:
            idx = int(self.rng.random() * len(variants))
        self.chosen[key] = idx
        ctx = self.s.ctx
        return [p.format_map(ctx) if f else p for p, f in variants[idx]]

    def play(self, steps: list[Step]) -> None:
        """Play the steps in order, stopping early if the buyer gives up or the period ends."""
        rng, s = self.rng, self.s
        try:
            if steps and steps[0][0] in ("b", "img") and not s.quick and rng.random() < 0.4:
                entry = "system.entry_after" if s.aftersale else "system.entry_pre"
                self.put("system", None, self.words(entry)[0])
                self.t += between(rng, 3, 25)
            opened = False
            agent_turn = 0
            for step in steps:
                what = step[0]
                if what == "b" or what == "img":
                    self.buyer(self.words(step[1]) if what == "b" else [""])
                    if not opened and not s.quick and not self.agent_spoke:
                        opened = True
                        if not self.first_reaction():
                            return
                elif what == "a" or what == "check":
                    if agent_turn == s.transfer_at:
                        self.transfer()
                    agent_turn += 1
                    self.answer(step[1], what == "check")
                elif what == "bot":
                    self.t += between(rng, 1, 3)
                    self.put("bot", None, self.words(step[1])[0])
                    self.last = "bot"
                elif what == "human":
                    self.t += between(rng, 1, 4)
                    self.put("system", None, f"会话已转接给 {self.agent.nickname}")
                    self.last = "sys"
                elif what == "sup":
                    self.transfer(s.shop.supervisor)
                else:
                    self.business(step)
        except _PeriodOver:
            pass

    def buyer(self, texts: list[str]) -> None:
        """The buyer's turn: one or more messages typed in a row."""
        rng = self.rng
        if self.last == "b":
            self.t += between(rng, 3, 20)
        elif self.overnight:
            self.t += between(rng, 300, 3 * 3600)  # the buyer sees the answer to last night's message later
            self.overnight = False
        elif self.last:
            if self.s.quick:
                self.t += between(rng, 5, 20)
            elif rng.random() < 0.05:
                self.t += between(rng, 300, 3600)  # stepped away and came back
            else:
                self.t += skewed(rng, 8, 150)
        for i, text in enumerate(texts):
            if i:
                self.t += between(rng, 3, 18)
            self.put("buyer", None, text)
        self.last = "b"

    def first_reaction(self) -> bool:
        """The bot's reaction to the first message; False if the buyer then leaves (after hours)."""
        rng, s = self.rng, self.s
        if s.offhours:
            self.t += between(rng, 1, 3)
            self.put("bot", None, self.words("bot.offhours")[0])
            self.last = "bot"
            if rng.random() < 0.55:
                # Nobody is in; the buyer leaves it at that (sometimes with a last "ok").
                if rng.random() < 0.35:
                    self.t += skewed(rng, 8, 90)
                    self.put("buyer", None, self.words("close.last")[0])
                    self.last = "b"
                return False
        elif s.peak and rng.random() < 0.7:
            self.t += between(rng, 1, 3)
            self.put("bot", None, self.words("bot.peak")[0])
            self.last = "bot"
        elif rng.random() < 0.4:
            self.t += between(rng, 1, 3)
            self.put("bot", None, s.shop.welcome if rng.random() < 0.5 else self.words("bot.welcome")[0])
            self.last = "bot"
        return True

    def answer(self, key: str, after_lookup: bool) -> None:
        """The agent's turn, after the pause that agent (and the day's load) makes the buyer wait."""
        rng, s = self.rng, self.s
        if not self.agent_spoke and s.offhours:
            self.t = max(self.t, self.clock.next_open(s.shop.hours, self.t) + between(rng, 60, 2400))
            self.overnight = True
        elif after_lookup:
            self.t += int(between(rng, 40, 240) * (PEAK_SLOWDOWN if s.peak else 1.0))
        elif self.last == "a":
            self.t += between(rng, 5, 30)
        elif self.last:
            self.t += between(rng, 5, 15) if s.quick else self.reply_delay()
        agent_id = self.agent.agent_id
        if not self.agent_spoke and self.last == "b" and not s.quick and rng.random() < 0.6:
            self.put("agent", agent_id, self.words("agent.greet")[0])
            self.t += between(rng, 4, 15)
        for i, text in enumerate(self.words(key)):
            if i:
                self.t += between(rng, 4, 20)
            self.put("agent", agent_id, text)
        self.agent_spoke = True
        self.last_agent_t = self.t
        self.last = "a"

    def reply_delay(self) -> int:
        """Seconds the serving agent takes to answer: their own pace, slower on the promotion day."""
        rng = self.rng
        if rng.random() < (0.04 if self.s.peak else 0.008):
            self.long_wait = True
            return between(rng, 600, 1800)
        lo, hi = self.agent.speed
        return int((lo + (hi - lo) * rng.random()) * (PEAK_SLOWDOWN if self.s.peak else 1.0))

    def transfer(self, to: Agent | None = None) -> None:
        """Hand the chat to a colleague (or the supervisor) with the system's notice."""
        rng, s = self.rng, self.s
        if to is None:
            others = [a for a in s.shop.agents if a.role == "agent" and a is not self.agent]
            if not others:
                return
            to = others[int(rng.random() * len(others))]
        variants = self.bank["system.transfer"]
        text = variants[int(rng.random() * len(variants))][0][0]
        self.t += between(rng, 2, 10)
        self.put("system", None, text.format_map({"from": self.agent.nickname, "to": to.nickname}))
        self.agent = to
        s.ctx["agent"] = to.nickname
        self.last = "sys"

    def business(self, step: Step) -> None:
        """What the buyer does besides writing: order, pay, ask for money back."""
        rng, s, ledger = self.rng, self.s, self.ledger
        what, order = step[0], s.order
        if what == "order":
            self.t += between(rng, 20, 120)
            if self.t < self.clock.end:
                placed = ledger.open(s.shop, s.buyer, self.t, s.product, s.sku)
                ledger.run_course(placed)
                self.inline_order = True
            self.last = "b"  # the buyer's "I ordered" message follows right away
        elif what == "pay" and order is not None:
            self.t += between(rng, 30, 240)
            if order.paid is None:
                ledger.pay(order, self.t)
                if order.paid is not None:
                    order.cancelled = False
                    ledger.dispatch(order)
        elif what == "refund" and order is not None:
            reason = step[1]
            if reason in REASON_HINTS:
                # The reason the buyer picks is the one they gave in the chat.
                default, hints = REASON_HINTS[reason]
                said = "".join(p for p, _ in self.bank[reason][self.chosen.get(reason, 0)])
                reason = next((r for hint, r in hints if hint in said), default)
            kind = step[2]
            if kind in REFUND_AFTER:
                kind = REFUND_AFTER[kind][self.chosen.get(kind, 0)]
            if kind is not None:
                # A compensation is the sum the agent named in the chat.
                amount = Decimal(s.ctx["refund_amount"]) if kind == "part" else None
                ledger.refund(order, self.t + between(rng, 30, 600), reason, kind, amount=amount)
