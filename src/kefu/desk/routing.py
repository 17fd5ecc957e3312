"""Who takes a waiting conversation: automatic assignment to online agents of the right skill group.

The rule sellers expect from their workbench: only agents who are online (not busy, not away)
and under their own limit of concurrent conversations take new ones; of those, the least loaded
takes it, and between equally loaded agents the one who has waited longest since their last
assignment. When nobody qualifies the conversation stays in the group's queue for manual pick-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

PRESENCES = ("online", "busy", "away")  # busy: keeps their conversations, takes no new ones


@dataclass(frozen=True)
class AgentLoad:
    agent_id: str
    skill_group: str | None  # presale, aftersale (vocabularies.SKILL_GROUPS); None: any group
    presence: str
    active: int  # open conversations assigned to the agent now
    max_concurrent: int
    last_assigned_at: datetime | None = None

    @property
    def has_room(self) -> bool:
        return self.presence == "online" and self.active < self.max_concurrent


def choose_agent(agents: Iterable[AgentLoad], skill_group: str | None) -> str | None:
    """The agent who should take a new conversation of `skill_group`, or None to leave it queued."""
    fit = [a for a in agents if a.has_room and (skill_group is None or a.skill_group in (None, skill_group))]
    if not fit:
        return None

    def order(agent: AgentLoad) -> tuple:
        # Load as a share of the agent's own limit, so a part-timer with a limit of 3 is not
        # handed as many conversations as a colleague allowed 10.
        waited = agent.last_assigned_at.timestamp() if agent.last_assigned_at else float("-inf")
        return (agent.active / agent.max_concurrent, waited, agent.agent_id)

    return min(fit, key=order).agent_id


@dataclass(frozen=True)
class WaitThresholds:
    """When a waiting buyer's timer changes colour (shop-configurable; defaults from service practice)."""

    amber_s: int = 30  # answer within 30 seconds
    red_s: int = 600  # never leave a buyer waiting ten minutes

    def __post_init__(self) -> None:
        if not 0 < self.amber_s < self.red_s:
            raise ValueError(f"amber ({self.amber_s} s) must come before red ({self.red_s} s) and after 0")


def wait_level(
    waiting_since: datetime | None, now: datetime, limits: WaitThresholds = WaitThresholds()
) -> str:
    """ "ok", "amber" or "red" for a conversation whose buyer has waited since `waiting_since`."""
    if waiting_since is None:
        return "ok"
    waited = (now - waiting_since).total_seconds()
    if waited >= limits.red_s:
        return "red"
    if waited >= limits.amber_s:
        return "amber"
    return "ok"
