"""A live desk for browser tests: a seeded shop, kefu under uvicorn, and a TCP proxy that can drop the line.

The proxy stands between a browser and the server, so a test can cut the network for real:
open connections are closed as a dead line would close them, new ones are refused until the
line is back, and answers can be swallowed (`swallow_answers`) to lose an ack in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from kefu.accounts.passwords import hash_password
from kefu.desk.buyer_tokens import new_secret
from kefu.settings import Settings
from kefu.store.engine import make_engine, make_sessionmaker, session_scope
from kefu.store.migrate import upgrade
from kefu.store.models import Product, Shop, Staff
from kefu.web.app import create_app

PASSWORD = "春风-Spring-2024"
SHOP_ID = "yiyi"
SHOP_NAME = "悦衣坊旗舰店"
PRODUCT_ID = "yiyi-p01"


@dataclass(frozen=True)
class Member:
    username: str
    agent_id: str
    nickname: str
    role: str
    skill_group: str | None
    presence: str


AGENT = Member("xiaomei", "yiyi_a01", "小美", "agent", "presale", "online")
COLLEAGUE = Member("azhe", "yiyi_a02", "阿哲", "agent", "aftersale", "busy")
SUPERVISOR = Member("laoban", "yiyi_a03", "老板娘", "supervisor", None, "away")
TEAM = (AGENT, COLLEAGUE, SUPERVISOR)


def seed(engine: Engine) -> None:
    """One shop that lets anonymous buyers chat, with a timer that turns amber after 2 s."""
    password_hash = hash_password(PASSWORD)
    with session_scope(make_sessionmaker(engine)) as session:
        session.add(Shop(
            id=SHOP_ID, name=SHOP_NAME, category="clothing", buyer_token_secret=new_secret(),
            welcome="欢迎光临{shop}，我是{agent} {emoji}",
            policies={"anonymous_chat": True, "wait_amber_s": 2, "wait_red_s": 600,
                      "embed_origins": ["https://shop.example.com"]},
        ))
        session.flush()
        session.add(Product(id=PRODUCT_ID, shop_id=SHOP_ID, title="春秋款纯棉衬衫", price=129))
        for member in TEAM:
            session.add(Staff(
                shop_id=SHOP_ID, agent_id=member.agent_id, username=member.username, nickname=member.nickname,
                role=member.role, skill_group=member.skill_group, presence=member.presence,
                password_hash=password_hash, max_concurrent=50,
            ))


class LineProxy:
    """A TCP relay on a loopback port whose line a test can cut and restore."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.down = False
        self.swallowing = False
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer, swallowable=False),
            self._pipe(up_reader, writer, swallowable=True),
            return_exceptions=True,
        )
        for end in (writer, up_writer):
            self.writers.discard(end)
            end.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, swallowable: bool
    ) -> None:
        while data := await reader.read(65536):
            if swallowable and self.swallowing:
                continue  # the server answered; the answer is lost on the way
            writer.write(data)
            await writer.drain()
        writer.close()

    def _call(self, action) -> None:
        done = threading.Event()

        def run() -> None:
            action()
            done.set()

        self.loop.call_soon_threadsafe(run)
        done.wait(5)

    def swallow_answers(self) -> None:
        """Requests still reach the server, its answers are dropped (an ack lost in flight)."""
        self._call(lambda: setattr(self, "swallowing", True))

    def cut(self) -> None:
        """Close every open connection and refuse new ones, as a dropped network does."""

        def cut() -> None:
            self.down = True
            for writer in list(self.writers):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
            self.writers.clear()

        self._call(cut)

    def restore(self) -> None:
        def restore() -> None:
            self.down = False
            self.swallowing = False

        self._call(restore)

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class DeskWorld:
    url: str  # straight to the server
    line: LineProxy  # the same server behind a line that can be cut
    db_url: str

    @property
    def cut_url(self) -> str:
        return f"http://127.0.0.1:{self.line.port}"


def start_desk_world(folder: Path) -> Iterator[DeskWorld]:
    db_url = f"sqlite:///{folder / 'kefu.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    seed(engine)
    engine.dispose()
    app = create_app(Settings(database_url=db_url, data_dir=folder, secret_key="browser-desk-secret"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws_ping_interval=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    line = LineProxy(port)
    yield DeskWorld(f"http://127.0.0.1:{port}", line, db_url)
    line.stop()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
