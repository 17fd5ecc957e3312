"""Reads of the store behind the analytics pages, each scoped to the shop of the staff member asking.

`access_transcript` is the one way a conversation id from a request becomes a transcript: a
conversation of another shop gives the same NotFound as a missing one. Phone numbers never
leave it: the buyer's stored number and anything shaped like a mobile number are masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.store.models import Buyer, Conversation, Message, Product, Rating, Staff

# A mainland mobile number, with or without +86 and with spaces or dashes between the groups.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
MASK = "***********"


@dataclass(frozen=True)
class Line:
    sent_at: datetime
    sender: str  # buyer, agent, bot, system (vocabularies.SENDERS)
    agent_id: str | None
    text: str  # plain text, phone numbers masked; the page escapes it


@dataclass(frozen=True)
class Transcript:
    conversation_id: str
    shop_id: str
    buyer_id: str
    lines: list[Line]
    ratings: list[str]  # the scores buyers gave this conversation, in time order


def mask_phone_numbers(text: str, known: tuple[str, ...] = ()) -> str:
    """`text` with mobile numbers, and the numbers in `known` however they are written, hidden."""
    for number in known:
        digits = re.sub(r"\D", "", number)
        if len(digits) >= 5:
            spaced = r"[\s-]?".join(re.escape(d) for d in digits)
            text = re.sub(rf"(?<!\d){spaced}(?!\d)", MASK, text)
    return _MOBILE.sub(MASK, text)


def access_transcript(session: Session, staff: Staff, conversation_id: str) -> Transcript:
    """The conversation's messages, if it belongs to the staff member's shop; else NotFound."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != staff.shop_id:
        raise NotFound("conversation")
    buyer = session.get(Buyer, conversation.buyer_id)
    known = (buyer.phone,) if buyer is not None and buyer.phone else ()
    messages = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.sent_at, Message.ordinal, Message.seq)
    )
    lines = [Line(m.sent_at, m.sender, m.agent_id, mask_phone_numbers(m.text or "", known)) for m in messages]
    scores = session.scalars(
        select(Rating.score)
        .where(Rating.conversation_id == conversation.id, Rating.shop_id == conversation.shop_id)
        .order_by(Rating.rated_at, Rating.ordinal)
    ).all()
    return Transcript(conversation.id, conversation.shop_id, conversation.buyer_id, lines, list(scores))


def get_agent_names(session: Session, shop_id: str) -> dict[str, str]:
    """agent_id -> nickname (花名) of the shop's staff."""
    rows = session.execute(select(Staff.agent_id, Staff.nickname).where(Staff.shop_id == shop_id))
    return {agent_id: nickname for agent_id, nickname in rows}


def get_product_titles(session: Session, shop_id: str) -> dict[str, str]:
    rows = session.execute(select(Product.id, Product.title).where(Product.shop_id == shop_id))
    return {product_id: title for product_id, title in rows}
