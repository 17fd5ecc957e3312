"""Who hears which desk event: buyers their own conversation without staff matters, staff their own shop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kefu.desk.hub import LocalHub, Registry


@dataclass(eq=False)
class Ear:
    shop_id: str
    is_staff: bool
    agent_id: str | None = None
    heard: list[dict[str, Any]] = field(default_factory=list)

    def deliver(self, event: dict[str, Any]) -> None:
        self.heard.append(event)


def message(shop: str, conversation: str) -> dict[str, Any]:
    return {"type": "message", "shop_id": shop, "conversation_id": conversation, "seq": 1, "text": "在吗"}


def test_messages_reach_the_watchers_of_their_conversation_only():
    registry = Registry()
    buyer, other_buyer = Ear("yiyi", False), Ear("yiyi", False)
    agent, outsider = Ear("yiyi", True, "a1"), Ear("shuma", True, "s1")
    for ear in (buyer, other_buyer, agent, outsider):
        registry.add(ear)
    registry.watch(buyer, "c1")
    registry.watch(other_buyer, "c2")
    registry.watch(agent, "c1")
    registry.watch(outsider, "c1")  # even a wrongly watched id never crosses shops
    registry.dispatch(message("yiyi", "c1"))
    assert [len(e.heard) for e in (buyer, other_buyer, agent, outsider)] == [1, 0, 1, 0]


def test_notes_and_staff_fields_never_reach_the_buyer():
    registry = Registry()
    buyer, agent = Ear("yiyi", False), Ear("yiyi", True, "a1")
    registry.add(buyer)
    registry.add(agent)
    registry.watch(buyer, "c1")
    registry.watch(agent, "c1")
    registry.dispatch({"type": "note", "shop_id": "yiyi", "conversation_id": "c1", "text": "买家砍价很凶"})
    transferred = {
        "type": "conversation",
        "change": "transferred",
        "shop_id": "yiyi",
        "conversation_id": "c1",
        "status": "open",
        "assigned_agent_id": "a2",
        "note": "要换L码",
        "buyer_id": "b1",
    }
    registry.dispatch(transferred)
    registry.dispatch({**transferred, "change": "rated", "staff_only": True})
    assert [e["type"] for e in agent.heard] == ["note", "conversation", "conversation"]
    assert buyer.heard == [
        {
            "type": "conversation",
            "change": "transferred",
            "shop_id": "yiyi",
            "conversation_id": "c1",
            "status": "open",
        }
    ]


def test_an_agent_starts_hearing_a_conversation_when_it_is_assigned_to_them_and_stops_when_gone():
    registry = Registry()
    agent = Ear("yiyi", True, "a1")
    registry.add(agent)
    registry.dispatch(message("yiyi", "c9"))
    registry.dispatch(
        {"type": "conversation", "shop_id": "yiyi", "conversation_id": "c9", "assigned_agent_id": "a1"}
    )
    registry.dispatch(message("yiyi", "c9"))
    assert [e["type"] for e in agent.heard] == ["conversation", "message"]
    registry.remove(agent)
    registry.dispatch(message("yiyi", "c9"))
    assert len(agent.heard) == 2


def test_the_local_hub_delivers_a_batch_in_order():
    hub = LocalHub()
    ear = Ear("yiyi", False)
    hub.registry.watch(ear, "c1")
    batch = [{**message("yiyi", "c1"), "seq": seq} for seq in (1, 2, 3)]
    asyncio.run(hub.publish(batch))
    assert [e["seq"] for e in ear.heard] == [1, 2, 3]
