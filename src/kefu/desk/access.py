"""Who may see which conversation: the only way a conversation id from a client becomes a row.

A buyer sees only their own conversations at the shop their token names; an agent sees the
conversations of their shop that are waiting, assigned to them or that they watch openly
(supervisors and admins see all of the shop's). A missing conversation and one that is not
the caller's give the same NotFound, so ids cannot be probed.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.store.models import Conversation, Staff

SUPERVISING_ROLES = frozenset({"admin", "supervisor"})


def conversation_for_buyer(
    session: Session, shop_id: str, buyer_id: str, conversation_id: str
) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != shop_id or conversation.buyer_id != buyer_id:
        raise NotFound("conversation")
    return conversation


def conversation_for_staff(session: Session, staff: Staff, conversation_id: str) -> Conversation:
    """A conversation of the staff member's shop; agents may open any of their shop's to help or
    take over, which the workbench shows as "all" only to supervisors."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != staff.shop_id:
        raise NotFound("conversation")
    return conversation


def can_write(staff: Staff, conversation: Conversation) -> bool:
    """Agents answer the conversations assigned to them; supervisors may step into any of the shop's."""
    return staff.role in SUPERVISING_ROLES or conversation.assigned_agent_id == staff.agent_id
