"""Live desk benchmark: buyers and agents chat over real WebSockets; then everything is checked in the store.

    .venv/bin/python bench/desk.py [--quick] [--conversations 1000] [--seconds 20] [--rate 2000]
                                  [--processes 2 --redis] [--crash] [--no-deflate] [--profile FILE]

The server runs as `kefu serve` in its own process (two with `--processes 2 --redis`, sharing a
throw-away redis-server and a throw-away PostgreSQL from scripts/test-services on port
KEFU_BENCH_PG_PORT, default 54394, with the default durability settings); one store (SQLite
with one process) holds a shop and its online agents, made before the server starts. Clients
run in two other processes (buyers, agents), so the server's CPU is what is measured.

Each buyer opens a conversation (not timed), then sends at an even pace so that buyer messages
plus the agents' replies come to `--rate` messages per second; every agent answers every
buyer message it receives, and buyers wait (up to a minute) for the answer to each of theirs.
Latency is from the buyer's send to the agent's receipt (one clock: the same machine). Clients
offer permessage-deflate as browsers do (`--no-deflate`: they do not). `--crash` kills the
(first) server with SIGKILL halfway, starts it again and lets the clients reconnect, `sync`
and resend what was not acknowledged.

At the end the store is read: lost = acknowledged messages not stored, or not delivered to
the other side (live or through `sync`); dup = a key or a message stored twice, or a message
delivered live twice. Last line:
conversations=N messages=M lost=0 dup=0 p50_ms=... p99_ms=... msgs_per_s=...
(messages and msgs_per_s: stored in the timed window, buyers' and agents' together; with
--crash the line before says how many acknowledged messages are stored exactly once). Lines
before it give the server's CPU per message and how long its threads waited for a CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

SHOP = "benchshop"
SECRET_KEY = "bench-secret-key-not-for-production"
TOKEN_SECRET = "bench-buyer-token-secret"
PASSWORD_HASH = "bench-agents-cannot-log-in"  # never checked: the bench signs their cookies itself
CONVERSATIONS_PER_AGENT = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# --- the store and the servers ------------------------------------------------------------


def prepare_store(url: str, agents: int) -> list[dict]:
    """A migrated store with the shop and its online agents; returns each agent's cookie fields."""
    from kefu.store.engine import make_engine, make_sessionmaker, session_scope
    from kefu.store.migrate import upgrade
    from kefu.store.models import Shop, Staff
    from kefu.web.sessions import SessionCodec

    engine = make_engine(url)
    upgrade(engine)
    codec = SessionCodec(SECRET_KEY, 12 * 3600)
    made = []
    with session_scope(make_sessionmaker(engine)) as session:
        session.add(Shop(id=SHOP, name="压测旗舰店", category="clothing", buyer_token_secret=TOKEN_SECRET))
        session.flush()
        members = [
            Staff(
                shop_id=SHOP,
                agent_id=f"a{n:03}",
                username=f"bench-a{n:03}",
                nickname=f"客服{n:03}",
                role="agent",
                password_hash=PASSWORD_HASH,
                presence="online",
                max_concurrent=100_000,
            )
            for n in range(agents)
        ]
        session.add_all(members)
        session.flush()
        for member in members:
            cookie = codec.dumps(
                {"staff_id": member.id, "pw": codec.password_fingerprint(member.id, PASSWORD_HASH)}
            )
            made.append({"agent_id": member.agent_id, "cookie": cookie})
    engine.dispose()
    return made


class Server:
    """One `kefu serve` process on a port of its own."""

    def __init__(self, port: int, url: str, data_dir: Path, redis_url: str | None, profile: str | None):
        self.port, self.url, self.data_dir, self.redis_url, self.profile = (
            port,
            url,
            data_dir,
            redis_url,
            profile,
        )
        self.process: subprocess.Popen | None = None
        self.log = open(data_dir / f"server-{port}.log", "ab")

    def start(self) -> None:
        env = {
            **os.environ,
            "KEFU_SECRET_KEY": SECRET_KEY,
            "KEFU_DATA_DIR": str(self.data_dir),
            # The bench paces buyers itself; the per-buyer limit would only add refusals.
            "KEFU_BUYER_RATE_PER_S": "1000",
            "KEFU_BUYER_BURST": "1000",
        }
        if self.redis_url:
            env["KEFU_REDIS_URL"] = self.redis_url
        command = [sys.executable]
        if self.profile:
            command += ["-m", "cProfile", "-o", self.profile]
        command += [
            str(ROOT / ".venv/bin/kefu"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            self.url,
        ]
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly (and cProfile writes)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def waited_seconds(pid: int) -> float:
    """Seconds the process's threads have been ready to run but waited for a CPU (/proc schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the clients --------------------------------------------------------------------------


class Peer:
    """One client connection that survives restarts: keeps unacknowledged sends and the seqs it holds."""

    def __init__(self, uri: str, headers: dict[str, str], deflate: bool = True):
        self.uri, self.headers = uri, headers
        self.compression = "deflate" if deflate else None
        self.ws = None
        self.pending: dict[str, dict] = {}  # client_msg_id -> frame, until acknowledged
        self.held: dict[str, set[int]] = {}  # conversation -> seqs held
        self.live_seen: Counter = Counter()  # (conversation, seq) delivered as a live `message`
        self.acked: dict[str, tuple[str, int]] = {}  # client_msg_id -> (conversation, seq)
        self.reconnects = 0
        self.connected = asyncio.Event()
        self.gap_checks: set[str] = set()  # conversations with a missing seq being waited for
        self.checking: set[asyncio.Task] = set()

    def contiguous(self, conversation_id: str) -> int:
        held, seq = self.held.get(conversation_id, set()), 0
        while seq + 1 in held:
            seq += 1
        return seq

    async def send(self, frame: dict) -> None:
        if frame.get("type") == "send":
            self.pending[frame["client_msg_id"]] = frame
        if self.connected.is_set():
            try:
                await self.ws.send(json.dumps(frame, ensure_ascii=False))
            except Exception:
                pass  # resent after the reconnect

    async def run(self, on_frame, on_welcome, stop: asyncio.Event) -> None:
        from websockets.asyncio.client import connect

        first = True
        while not stop.is_set():
            try:
                async with connect(
                    self.uri,
                    additional_headers=self.headers,
                    open_timeout=30,
                    max_queue=None,
                    ping_interval=None,
                    compression=self.compression,
                ) as ws:
                    self.ws = ws
                    welcome = json.loads(await ws.recv())
                    if welcome.get("type") != "welcome":
                        raise RuntimeError(f"refused: {welcome}")
                    if not first:
                        self.reconnects += 1
                    first = False
                    self.connected.set()
                    await on_welcome(self, welcome)
                    for frame in list(self.pending.values()):  # same client_msg_id: stored once
                        await ws.send(json.dumps(frame, ensure_ascii=False))
                    async for raw in ws:
                        await on_frame(self, json.loads(raw))
            except asyncio.CancelledError:
                raise
            except Exception:
                pass
            self.connected.clear()
            if not stop.is_set():
                await asyncio.sleep(0.2)

    def fill_gaps(self, conversation_id: str) -> None:
        """A seq held after a missing one: ask for what is missing if it has not come within a
        second (a message stored by a process killed before it published it), as the pages do."""
        held = self.held.get(conversation_id, set())
        if conversation_id in self.gap_checks or max(held, default=0) <= self.contiguous(conversation_id):
            return
        self.gap_checks.add(conversation_id)

        async def later() -> None:
            await asyncio.sleep(1.0)
            self.gap_checks.discard(conversation_id)
            after = self.contiguous(conversation_id)
            if max(held) > after and self.connected.is_set():
                frame = {"type": "sync", "conversation_id": conversation_id, "after_seq": after}
                with contextlib.suppress(Exception):  # asked again after the reconnect
                    await self.ws.send(json.dumps(frame))

        task = asyncio.ensure_future(later())
        self.checking.add(task)
        task.add_done_callback(self.checking.discard)

    def refused(self, frame: dict) -> None:
        """An error for a send: try it again shortly (same client_msg_id), as a client would."""
        frame_out = self.pending.get(frame.get("client_msg_id", ""))
        if frame_out is not None:
            asyncio.get_running_loop().call_later(0.5, lambda: asyncio.ensure_future(self.send(frame_out)))

    def took(self, frame: dict, live: bool) -> bool:
        """Note a delivered message; False when this client already held its seq."""
        key = (frame["conversation_id"], frame["seq"])
        if live:
            self.live_seen[key] += 1
        held = self.held.setdefault(frame["conversation_id"], set())
        if frame["seq"] in held:
            return False
        held.add(frame["seq"])
        return True

    def acknowledged(self, frame: dict) -> None:
        self.pending.pop(frame["client_msg_id"], None)
        self.acked[frame["client_msg_id"]] = (frame["conversation_id"], frame["seq"])
        self.held.setdefault(frame["conversation_id"], set()).add(frame["seq"])


async def buyers_main(spec: dict) -> dict:
    from kefu.desk.buyer_tokens import make_token

    stop = asyncio.Event()
    expires = datetime.now(UTC) + timedelta(hours=2)
    peers: list[Peer] = []
    opened: list[asyncio.Event] = []
    received: dict[str, str] = {}  # agent reply client_msg_id -> conversation
    errors = Counter()

    async def on_welcome(peer: Peer, welcome: dict) -> None:
        conversation = welcome.get("conversation")
        if conversation:
            peer.conversation_id = conversation["id"]
            await peer.ws.send(
                json.dumps(
                    {
                        "type": "sync",
                        "conversation_id": conversation["id"],
                        "after_seq": peer.contiguous(conversation["id"]),
                    }
                )
            )

    def handler(index: int):
        async def on_frame(peer: Peer, frame: dict) -> None:
            kind = frame["type"]
            if kind == "ack":
                peer.acknowledged(frame)
                peer.conversation_id = frame["conversation_id"]
                opened[index].set()
            elif kind == "message":
                if peer.took(frame, live=True) and frame["sender"] == "agent":
                    received[frame["client_msg_id"]] = frame["conversation_id"]
                peer.fill_gaps(frame["conversation_id"])
            elif kind == "history":
                for message in frame["messages"]:
                    if peer.took(message, live=False) and message["sender"] == "agent":
                        received[message["client_msg_id"]] = message["conversation_id"]
            elif kind == "error":
                errors[frame["code"]] += 1
                peer.refused(frame)

        return on_frame

    ports = spec["ports"]
    tasks = []
    for i in range(spec["conversations"]):
        token = make_token(TOKEN_SECRET, SHOP, f"buyer{i:05}", expires, nickname=f"买家{i}")
        peer = Peer(
            f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/chat/{SHOP}?token={token}", {}, spec["deflate"]
        )
        peer.conversation_id = None
        peers.append(peer)
        opened.append(asyncio.Event())
        tasks.append(asyncio.create_task(peer.run(handler(i), on_welcome, stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # connect in waves, as shoppers arrive
    for i, peer in enumerate(peers):  # open every conversation before the clock starts
        await peer.connected.wait()
        await peer.send({"type": "send", "client_msg_id": f"b{i}-open", "text": f"b{i}-open 0"})
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 120)
    Path(spec["ready_file"]).write_text("ready")
    await asyncio.sleep(1.0)  # the agents answer the opening messages

    interval = spec["conversations"] / spec["buyer_rate"]
    t_start = time.time()
    t_end = t_start + spec["seconds"]
    sent = 0

    async def pace(i: int, peer: Peer) -> None:
        nonlocal sent
        next_at = t_start + interval * i / len(peers)
        n = 0
        while next_at < t_end:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            cmid = f"b{i}-{n}"
            await peer.send(
                {
                    "type": "send",
                    "client_msg_id": cmid,
                    "text": f"{cmid} {time.time_ns()}",
                    "conversation_id": peer.conversation_id,
                }
            )
            sent += 1
            n += 1
            next_at += interval

    await asyncio.gather(*(pace(i, peer) for i, peer in enumerate(peers)))
    t_sent = time.time()
    deadline = time.monotonic() + 60  # every send acknowledged (also across a restart)
    while any(peer.pending for peer in peers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    Path(spec["sent_file"]).write_text("sent")
    # Every acknowledged message answered, or a minute passed: what is missing then counts as lost.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        asked = {f"r-{cmid}" for peer in peers for cmid in peer.acked}
        if asked <= received.keys():
            break
        await asyncio.sleep(0.2)
    stop.set()
    for peer in peers:
        if peer.ws is not None:
            await peer.ws.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "t_start": t_start,
        "t_end": t_end,
        "t_sent": t_sent,
        "sent": sent,
        "acked": [[cmid, conv, seq] for peer in peers for cmid, (conv, seq) in peer.acked.items()],
        "unacked": sum(len(peer.pending) for peer in peers),
        "received": [[cmid, conv] for cmid, conv in received.items()],
        "live_dup": sum(count - 1 for peer in peers for count in peer.live_seen.values() if count > 1),
        "reconnects": sum(peer.reconnects for peer in peers),
        "errors": dict(errors),
    }


async def agents_main(spec: dict) -> dict:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    peers: list[Peer] = []
    received: dict[str, str] = {}  # buyer client_msg_id -> conversation
    latencies: list[tuple[float, float]] = []  # (sent at, ms)
    errors = Counter()
    replied: set[str] = set()

    async def answer(peer: Peer, message: dict) -> None:
        cmid = message["client_msg_id"]
        received[cmid] = message["conversation_id"]
        if cmid not in replied:
            replied.add(cmid)
            await peer.send(
                {
                    "type": "send",
                    "client_msg_id": f"r-{cmid}",
                    "conversation_id": message["conversation_id"],
                    "text": f"r-{cmid} 好的",
                }
            )

    async def on_welcome(peer: Peer, welcome: dict) -> None:
        for conversation_id in welcome.get("conversations", []):
            await peer.ws.send(
                json.dumps(
                    {
                        "type": "sync",
                        "conversation_id": conversation_id,
                        "after_seq": peer.contiguous(conversation_id),
                    }
                )
            )

    async def on_frame(peer: Peer, frame: dict) -> None:
        kind = frame["type"]
        if kind == "message":
            if peer.took(frame, live=True) and frame["sender"] == "buyer":
                sent_ns = int(frame["text"].rsplit(" ", 1)[1])
                if sent_ns:
                    latencies.append((sent_ns / 1e9, (time.time_ns() - sent_ns) / 1e6))
                await answer(peer, frame)
            peer.fill_gaps(frame["conversation_id"])
        elif kind == "history":
            for message in frame["messages"]:
                if peer.took(message, live=False) and message["sender"] == "buyer":
                    await answer(peer, message)
        elif kind == "ack":
            peer.acknowledged(frame)
        elif kind == "error":
            errors[frame["code"]] += 1
            peer.refused(frame)

    ports = spec["ports"]
    tasks = []
    for i, agent in enumerate(spec["agents"]):
        peer = Peer(
            f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/desk",
            {"Cookie": f"kefu_session={agent['cookie']}"},
            spec["deflate"],
        )
        peers.append(peer)
        tasks.append(asyncio.create_task(peer.run(on_frame, on_welcome, stop)))
    await asyncio.wait_for(asyncio.gather(*(peer.connected.wait() for peer in peers)), 60)
    Path(spec["ready_file"]).write_text("ready")
    await stop.wait()
    deadline = time.monotonic() + 30
    while any(peer.pending for peer in peers) and time.monotonic() < deadline:
        stop.clear()
        await asyncio.sleep(0.1)
    stop.set()
    for peer in peers:
        if peer.ws is not None:
            await peer.ws.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "latencies": latencies,
        "acked": [[cmid, conv, seq] for peer in peers for cmid, (conv, seq) in peer.acked.items()],
        "unacked": sum(len(peer.pending) for peer in peers),
        "received": [[cmid, conv] for cmid, conv in received.items()],
        "live_dup": sum(count - 1 for peer in peers for count in peer.live_seen.values() if count > 1),
        "reconnects": sum(peer.reconnects for peer in peers),
        "errors": dict(errors),
    }


def client_main(role: str, spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    # uvloop, as `kefu serve` runs on: the clients stand for buyers' phones and agents' browsers,
    # which do not share the server's cores; here they do, and uvloop takes a fifth off their
    # CPU (0.49 -> 0.39 of a core at 2,000 msgs/s), left to the servers.
    result = uvloop.run(buyers_main(spec) if role == "buyers" else agents_main(spec))
    Path(spec["result_file"]).write_text(json.dumps(result))


# --- the run ------------------------------------------------------------------------------


def start_services(args, tmp: Path) -> tuple[str, str | None, list]:
    """The store URL, the Redis URL, and what to stop afterwards."""
    stops = []
    if args.processes == 1 and not args.redis:
        return f"sqlite:///{tmp / 'bench.db'}", None, stops
    # A folder of its own: the postgres user owns it and cannot enter our private temp folder.
    pgdir = tempfile.mkdtemp(prefix="kefu-bench-desk-pg.")
    env = {
        **os.environ,
        "KEFU_PG_DURABLE": "1",
        "KEFU_TEST_PG_PORT": os.environ.get("KEFU_BENCH_PG_PORT", "54394"),
    }
    script = str(ROOT / "scripts/test-services")
    out = subprocess.run([script, "start", pgdir], env=env, check=True, capture_output=True, text=True).stdout
    stops.append(lambda: shutil.rmtree(pgdir, ignore_errors=True))  # stops run last-first
    stops.append(lambda: subprocess.run([script, "stop", pgdir], env=env, check=False))
    urls = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line)
    # test-services' redis-server keeps nothing: --save '' --appendonly no, on loopback.
    return urls["KEFU_TEST_POSTGRES_URL"], urls["KEFU_TEST_REDIS_URL"] if args.redis else None, stops


def wait_file(path: Path, processes: list[subprocess.Popen], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if any(p.poll() not in (None, 0) for p in processes):
            raise RuntimeError("a client process failed (see its output above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {path.name}")
        time.sleep(0.05)


def check_store(url: str, t_start: float, t_end: float) -> dict:
    from sqlalchemy import func, select

    from kefu.store.engine import make_engine
    from kefu.store.models import Conversation, Message

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Message.conversation_id, Message.seq, Message.message_id, Message.text, Message.sent_at)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.shop_id == SHOP)
        ).all()
        conversations = conn.execute(
            select(func.count()).select_from(Conversation).where(Conversation.shop_id == SHOP)
        ).scalar_one()
    engine.dispose()
    start, end = datetime.fromtimestamp(t_start, UTC), datetime.fromtimestamp(t_end, UTC)
    return {
        "rows": rows,
        "conversations": conversations,
        "in_window": sum(1 for r in rows if start <= r.sent_at.replace(tzinfo=r.sent_at.tzinfo or UTC) < end),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def run(args) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="kefu-bench-desk-"))
    agents = max(1, -(-args.conversations // CONVERSATIONS_PER_AGENT))
    url, redis_url, stops = start_services(args, tmp)
    servers: list[Server] = []
    clients: list[subprocess.Popen] = []
    try:
        cookies = prepare_store(url, agents)
        ports = [free_port() for _ in range(args.processes)]
        for n, port in enumerate(ports):
            profile = f"{args.profile}.{n}" if args.profile and args.processes > 1 else args.profile
            servers.append(Server(port, url, tmp, redis_url, profile))
        for server in servers:
            server.start()
        common = {
            "ports": ports,
            "conversations": args.conversations,
            "seconds": args.seconds,
            "buyer_rate": args.rate / 2,
            "deflate": not args.no_deflate,
        }
        specs = {
            "agents": {
                **common,
                "agents": cookies,
                "ready_file": str(tmp / "agents.ready"),
                "result_file": str(tmp / "agents.json"),
            },
            "buyers": {
                **common,
                "ready_file": str(tmp / "buyers.ready"),
                "sent_file": str(tmp / "buyers.sent"),
                "result_file": str(tmp / "buyers.json"),
            },
        }
        for role, spec in specs.items():
            (tmp / f"{role}.spec").write_text(json.dumps(spec))
        clients.append(
            subprocess.Popen([sys.executable, __file__, "--client", "agents", str(tmp / "agents.spec")])
        )
        wait_file(tmp / "agents.ready", clients, 60)
        clients.append(
            subprocess.Popen([sys.executable, __file__, "--client", "buyers", str(tmp / "buyers.spec")])
        )
        wait_file(tmp / "buyers.ready", clients, 180)
        time.sleep(1.0)
        load_before = os.getloadavg()[0]
        cpu_before = [cpu_seconds(s.process.pid) for s in servers]
        client_cpu_before = [cpu_seconds(c.pid) for c in clients]
        waited_before = [waited_seconds(s.process.pid) for s in servers]
        wall_before = time.monotonic()
        crash_note = ""
        if args.crash:
            time.sleep(1.0 + args.seconds / 2)
            servers[0].kill()
            killed_at = time.monotonic()
            servers[0].start()
            back = time.monotonic() - killed_at
            crash_note = f"killed server on port {servers[0].port} (SIGKILL), up again in {back:.1f} s"
            print(crash_note, file=sys.stderr)
        wait_file(tmp / "buyers.sent", clients, args.seconds + 120)
        wall = time.monotonic() - wall_before
        cpu = [cpu_seconds(s.process.pid) for s in servers] if not args.crash else []
        waited = [waited_seconds(s.process.pid) for s in servers] if not args.crash else []
        client_cpu = [
            (cpu_seconds(c.pid) - b) / wall for c, b in zip(clients, client_cpu_before, strict=True)
        ]
        load_after = os.getloadavg()[0]
        clients[1].wait(100)  # buyers wait up to a minute for missing answers, then report them
        clients[0].send_signal(signal.SIGTERM)
        clients[0].wait(60)
        for server in servers:
            server.stop()
        buyers = json.loads((tmp / "buyers.json").read_text())
        agents_result = json.loads((tmp / "agents.json").read_text())
        store = check_store(url, buyers["t_start"], buyers["t_end"])
        server_errors = Counter(
            line.strip()[:160]
            for log in tmp.glob("server-*.log")
            for line in log.read_text(errors="replace").splitlines()
            if line.startswith(("sqlalchemy.exc.", "ERROR:", "psycopg.", "sqlite3."))
        )
    except BaseException:
        print(f"server logs and client files kept in {tmp}", file=sys.stderr)
        raise
    else:
        if args.keep:
            print(f"server logs and client files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        for process in clients:
            if process.poll() is None:
                process.kill()
        for server in servers:
            server.stop()
        for stop in reversed(stops):
            stop()

    rows = store["rows"]
    stored_keys = Counter(r.message_id for r in rows if r.message_id)
    stored_texts = Counter(r.text.split(" ", 1)[0] for r in rows)
    stored_seq = {(r.conversation_id, r.seq): r.message_id for r in rows}
    acked = [("buyer", c) for c in buyers["acked"]] + [("agent", c) for c in agents_result["acked"]]
    lost_stored = sum(1 for _, (cmid, conv, seq) in acked if stored_seq.get((conv, seq)) != f"{conv}:{cmid}")
    delivered_to_agents = {tuple(x) for x in agents_result["received"]}
    delivered_to_buyers = {tuple(x) for x in buyers["received"]}
    lost_delivery = sum(1 for cmid, conv, _ in buyers["acked"] if (cmid, conv) not in delivered_to_agents)
    lost_delivery += sum(
        1 for cmid, conv, _ in agents_result["acked"] if (cmid, conv) not in delivered_to_buyers
    )
    dup_stored = sum(n - 1 for n in stored_keys.values() if n > 1) + sum(
        n - 1 for n in stored_texts.values() if n > 1
    )
    dup_live = buyers["live_dup"] + agents_result["live_dup"]
    lost = lost_stored + lost_delivery + buyers["unacked"] + agents_result["unacked"]
    timed = [ms for at, ms in agents_result["latencies"] if buyers["t_start"] <= at < buyers["t_end"]]
    window = buyers["t_end"] - buyers["t_start"]
    print(
        f"buyers: sent={buyers['sent']} acked={len(buyers['acked'])} unacked={buyers['unacked']} "
        f"reconnects={buyers['reconnects']} errors={buyers['errors']}; agents={agents}: "
        f"replies acked={len(agents_result['acked'])} unacked={agents_result['unacked']} "
        f"reconnects={agents_result['reconnects']} errors={agents_result['errors']}",
        file=sys.stderr,
    )
    print(
        f"lost: not stored={lost_stored} not delivered={lost_delivery}; dup: stored={dup_stored} "
        f"delivered live twice={dup_live}; p90_ms={percentile(timed, 90):.1f} "
        f"max_ms={max(timed, default=0):.1f}",
        file=sys.stderr,
    )
    for line, count in server_errors.most_common(3):
        print(f"server log ({count}×): {line}", file=sys.stderr)
    if cpu:
        usage = " ".join(
            f"{(after - before) / wall:.0%}" for before, after in zip(cpu_before, cpu, strict=True)
        )
        queued = " ".join(f"{(a - b) / wall:.0%}" for b, a in zip(waited_before, waited, strict=True))
        spent = sum(cpu) - sum(cpu_before)
        after_opening = len(rows) - 2 * store["conversations"]  # not the opening messages and their answers
        print(
            f"server CPU per message: {spent / max(1, after_opening) * 1000:.2f} ms "
            f"({after_opening} messages in {wall:.1f} s)",
            file=sys.stderr,
        )
        print(
            f"server CPU over the timed part (of one core): {usage}; its threads waited for a CPU: {queued} "
            f"of the time; load average {load_before:.1f} → "
            f"{load_after:.1f} on {os.cpu_count()} cores; clients (agents, buyers): "
            f"{' '.join(f'{c:.0%}' for c in client_cpu)}",
            file=sys.stderr,
        )
    if args.crash:
        every = len(acked)
        once = every - lost_stored - sum(1 for n in stored_keys.values() if n > 1)
        print(f"crash: {crash_note}; acknowledged={every} stored exactly once={once}")
    return (
        f"conversations={store['conversations']} messages={store['in_window']} lost={lost} "
        f"dup={dup_stored + dup_live} p50_ms={percentile(timed, 50):.1f} p99_ms={percentile(timed, 99):.1f} "
        f"msgs_per_s={store['in_window'] / window:.0f}"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--client":
        client_main(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed part")
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="target messages/s, buyers' and agents' together"
    )
    parser.add_argument("--processes", type=int, default=1, choices=[1, 2])
    parser.add_argument("--redis", action="store_true", help="share events through a throw-away redis-server")
    parser.add_argument(
        "--crash", action="store_true", help="SIGKILL the (first) server halfway and restart it"
    )
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="clients do not offer permessage-deflate (browsers do; the server then skips zlib)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="200 conversations, 400 msgs/s, 8 s (under 40 s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (server logs, store)")
    parser.add_argument("--profile", metavar="FILE", help="run the server(s) under cProfile, writing FILE")
    args = parser.parse_args()
    if args.processes > 1 and not args.redis:
        parser.error("--processes 2 needs --redis (the processes share events through it)")
    if args.quick:
        args.conversations, args.rate, args.seconds = min(args.conversations, 200), min(args.rate, 400), 8.0
    print(run(args))


if __name__ == "__main__":
    main()
