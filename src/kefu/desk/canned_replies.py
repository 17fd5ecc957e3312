"""Canned replies (快捷短语): scenes, variables, templates, rendering, search and the repeat warning.

A template is plain text with two kinds of holes:

- ``{buyer_name}``: a variable from ``VARIABLES``, filled from the conversation's context;
- ``{?尺码}``: a prompt, a value only the agent knows and must type before sending.

``{{`` and ``}}`` stand for literal braces. A variable missing from the context becomes a
prompt too, so a reply never goes out with "None" or an empty gap in it.

This module is pure logic: no store, no web. The desk's actions load a shop's library,
build the context from the conversation and call ``render``; the composer calls ``search``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from kefu.chinese_text import folded

# --- scenes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """A group of the library, in the order an agent meets them in a conversation."""

    name: str
    zh: str
    en: str
    help: str


SCENES = (
    Scene("welcome", "欢迎语", "Welcome", "first words: greeting, returning buyers, busy or off hours"),
    Scene("product", "商品咨询", "Product questions", "stock, size, material, colour, gifts"),
    Scene("bargaining", "议价", "Bargaining", "asking for a lower price: decline politely, offer a coupon"),
    Scene("payment", "付款与催付", "Payment", "address check, unpaid orders, payment trouble"),
    Scene("shipping", "发货与物流", "Shipping", "dispatch times, courier, urging shipment, stuck parcels"),
    Scene("aftersale", "售后", "After-sale", "wrong, missing or damaged items, quality, returns, refunds"),
    Scene("closing", "告别语", "Closing", "thanks, goodbye, review invitation, where to find after-sales"),
)
SCENES_BY_NAME = {scene.name: scene for scene in SCENES}

# --- variables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """A value a template may name as ``{name}``; ``source`` says where the desk takes it from."""

    name: str
    zh: str
    en: str
    source: str


VARIABLES = (
    Variable("buyer_name", "买家", "Buyer name", "the conversation buyer's nickname (Buyer.nickname)"),
    Variable("shop", "店铺", "Shop", "the shop's name (Shop.name)"),
    Variable(
        "product",
        "商品",
        "Product",
        "title of the product under discussion: the card the buyer sent, else the order's first item",
    ),
    Variable("order", "订单号", "Order number", "id of the order under discussion (Order.id)"),
    Variable(
        "amount", "金额", "Amount", "the order's amount (Order.amount), shown with two decimals, no currency"
    ),
    Variable(
        "date",
        "日期",
        "Date",
        "the date the reply promises (dispatch, restock, end of an offer), in the shop's time zone, "
        "shown as 11月20日; usually left for the agent to type",
    ),
)
VARIABLES_BY_NAME = {variable.name: variable for variable in VARIABLES}

# --- templates ----------------------------------------------------------------------------

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_]{0,11}")


class CannedReplyError(ValueError):
    """A canned reply that cannot be stored or sent as it is."""


class TemplateError(CannedReplyError):
    """A template that does not parse; names the reply's key and the character where it fails."""

    def __init__(self, key: str, position: int, reason: str) -> None:
        self.key = key
        self.position = position  # 0-based index into the template text
        self.reason = reason
        super().__init__(f"canned reply {key!r}: {reason} at character {position + 1}")


@dataclass(frozen=True)
class Slot:
    """A ``{variable}`` hole, filled from the context."""

    variable: str


@dataclass(frozen=True)
class Prompt:
    """A value the agent must type; ``variable`` is set when it stands for a missing context value."""

    label: str
    variable: str | None = None


Part = str | Slot | Prompt


def parse_template(text: str, *, key: str) -> tuple[Part, ...]:
    """Split a template into literal text, slots and prompts, refusing what would send garbled."""
    parts: list[Part] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            parts.append("".join(literal))
            literal.clear()

    i = 0
    while i < len(text):
        char = text[i]
        if char in "｛｝":
            # An input method in full-width mode types these; they would go out as literal text.
            raise TemplateError(key, i, f"full-width brace {char!r}; write the half-width {{ or }}")
        if char == "}":
            if text.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise TemplateError(key, i, "'}' without a matching '{'")
        if char != "{":
            literal.append(char)
            i += 1
            continue
        if text.startswith("{{", i):
            literal.append("{")
            i += 2
            continue
        end = text.find("}", i + 1)
        reopened = text.find("{", i + 1)
        if end == -1 or -1 < reopened < end:
            raise TemplateError(key, i, "'{' is never closed")
        inner = text[i + 1 : end]
        flush()
        if inner.startswith("?"):
            label = inner[1:].strip()
            if not label:
                raise TemplateError(key, i, "a prompt needs a label, as in {?尺码}")
            parts.append(Prompt(label))
        elif inner in VARIABLES_BY_NAME:
            parts.append(Slot(inner))
        else:
            known = ", ".join(VARIABLES_BY_NAME)
            raise TemplateError(key, i, f"unknown variable {{{inner}}} (known: {known}; or {{?提示}})")
        i = end + 1
    flush()
    return tuple(parts)


@dataclass(frozen=True)
class CannedReply:
    """One reply of a shop's library; checked when made, so an edit that would not send is refused."""

    key: str  # what the agent types in the composer, e.g. "hy1"
    scene: str  # a name from SCENES
    title: str  # a few words shown in the picker
    text: str  # the template
    parts: tuple[Part, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not KEY_PATTERN.fullmatch(self.key):
            raise CannedReplyError(
                f"canned reply key {self.key!r}: use 1-12 lowercase ASCII letters, digits or _, "
                "starting with a letter or digit (e.g. hy1)"
            )
        if self.scene not in SCENES_BY_NAME:
            raise CannedReplyError(
                f"canned reply {self.key!r}: unknown scene {self.scene!r} "
                f"(known: {', '.join(SCENES_BY_NAME)})"
            )
        if not self.title.strip():
            raise CannedReplyError(f"canned reply {self.key!r}: the title is empty")
        if not self.text.strip():
            raise CannedReplyError(f"canned reply {self.key!r}: the text is empty")
        object.__setattr__(self, "parts", parse_template(self.text, key=self.key))


def library_from(replies: Iterable[CannedReply]) -> tuple[CannedReply, ...]:
    """A shop's library in its order, refusing two replies with one key (the key is what agents type)."""
    library = tuple(replies)
    seen: set[str] = set()
    for reply in library:
        if reply.key in seen:
            raise CannedReplyError(f"canned reply key {reply.key!r} is used twice")
        seen.add(reply.key)
    return library


# --- rendering ----------------------------------------------------------------------------

HOLE = "【{}】"  # how a prompt still to be typed shows in Rendered.text


@dataclass(frozen=True)
class Rendered:
    """A reply with its context filled in, and the prompts the agent still has to type."""

    key: str
    text: str  # ready to show; prompts appear as 【label】
    prompts: tuple[Prompt, ...]  # one per label, in order of first appearance
    parts: tuple[str | Prompt, ...] = field(repr=False)

    @property
    def complete(self) -> bool:
        return not self.prompts

    def fill(self, typed: Mapping[str, str]) -> str:
        """The text to send once the agent has typed a value for every prompt (keyed by label)."""
        missing = [p.label for p in self.prompts if not str(typed.get(p.label) or "").strip()]
        if missing:
            raise CannedReplyError(f"canned reply {self.key!r}: still to type: {', '.join(missing)}")
        return "".join(
            part if isinstance(part, str) else str(typed[part.label]).strip() for part in self.parts
        )


def display_value(value: object) -> str | None:
    """How a context value reads in a reply; None when there is nothing to show."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise CannedReplyError("a naive datetime in the context: convert it to the shop's time zone")
        return f"{value.month}月{value.day}日"
    if isinstance(value, date):
        return f"{value.month}月{value.day}日"
    if isinstance(value, Decimal | float):
        return f"{value:.2f}"
    text = str(value).strip()
    return text or None


def render(reply: CannedReply, context: Mapping[str, object]) -> Rendered:
    """Fill the reply's variables from the context; missing values become prompts, never "None"."""
    parts: list[str | Prompt] = []
    prompts: dict[str, Prompt] = {}
    for part in reply.parts:
        if isinstance(part, str):
            parts.append(part)
            continue
        if isinstance(part, Slot):
            shown = display_value(context.get(part.variable))
            if shown is not None:
                parts.append(shown)
                continue
            part = Prompt(VARIABLES_BY_NAME[part.variable].zh, part.variable)
        prompts.setdefault(part.label, part)
        parts.append(part)
    text = "".join(p if isinstance(p, str) else HOLE.format(p.label) for p in parts)
    return Rendered(reply.key, text, tuple(prompts.values()), tuple(parts))


# --- search -------------------------------------------------------------------------------


def _searchable_text(reply: CannedReply) -> str:
    """The template as an agent reads it: variables by their Chinese label, prompts by theirs."""
    return "".join(
        part
        if isinstance(part, str)
        else VARIABLES_BY_NAME[part.variable].zh
        if isinstance(part, Slot)
        else part.label
        for part in reply.parts
    )


def search(library: Iterable[CannedReply], query: str) -> list[CannedReply]:
    """Replies for what the agent typed: exact key, key prefix, then title, then text containing it.

    Within each rank the library's order holds. Traditional characters find simplified text.
    An empty query lists the whole library.
    """
    needle = folded(query.strip())
    replies = list(library)
    if not needle:
        return replies
    ranked: list[tuple[int, int, CannedReply]] = []
    for index, reply in enumerate(replies):
        if reply.key == needle:
            rank = 0
        elif reply.key.startswith(needle):
            rank = 1
        elif needle in folded(reply.title):
            rank = 2
        elif needle in folded(_searchable_text(reply)):
            rank = 3
        else:
            continue
        ranked.append((rank, index, reply))
    return [reply for _, _, reply in sorted(ranked, key=lambda item: item[:2])]


# --- repeat warning -----------------------------------------------------------------------


def repeated_in_conversation(sent_keys: Iterable[str], key: str) -> bool:
    """Whether this canned reply was already sent in the conversation (the composer warns)."""
    return key in set(sent_keys)
