"""The live desk of one server process: its message writer, its event hub, the buyers' rate limit.

`create_app` makes one `DeskRuntime` and starts it with the app; sockets, the workbench's
actions and the REST API all go through it, so every message is stored by the one writer
and every event leaves through the one hub.
"""

from __future__ import annotations

from sqlalchemy import Engine

from kefu.desk import webhooks
from kefu.desk.conversations import Change
from kefu.desk.hub import make_hub
from kefu.desk.messages import NewMessage
from kefu.desk.rate_limit import RateLimiter
from kefu.desk.writer import MessageWriter
from kefu.settings import Settings
from kefu.store.engine import writing


class DeskRuntime:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.hub = make_hub(settings.redis_url)
        self.writer = MessageWriter(
            writing(engine), outbox=webhooks.enqueue_messages, publish=self.hub.publish
        )
        self.buyer_limits = RateLimiter(settings.buyer_rate_per_s, settings.buyer_burst)
        self.deliverer = webhooks.WebhookDeliverer(
            engine, private_networks=settings.webhook_private_networks
        )
        self._starts = 0

    async def start(self) -> None:
        # Counted: a test may run the app's start-up again (a second client) while it runs;
        # the desk keeps running in the event loop that started it first.
        self._starts += 1
        if self._starts == 1:
            await self.hub.start()
            self.writer.start()
            self.deliverer.start()

    async def stop(self) -> None:
        self._starts -= 1
        if self._starts == 0:
            await self.deliverer.stop()
            await self.writer.stop()
            await self.hub.stop()

    async def apply(self, change: Change, *, shop_id: str, conversation_id: str | None) -> None:
        """Publish a committed change; its notices for the buyer go through the writer like any message."""
        if change.events:
            await self.hub.publish(change.events)
        for notice in change.notices:
            if conversation_id is not None:
                await self.writer.submit(NewMessage(conversation_id, shop_id, "system", None, notice))
