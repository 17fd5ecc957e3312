#!/usr/bin/env python3
"""An example marketplace connector for kefu, with the standard library only (docs/api.md).

A connector sits between a marketplace's chat and kefu:

- **in:** a buyer writes on the marketplace -> the connector posts it to kefu
  (`POST /api/v1/messages`), which opens or continues the buyer's conversation;
- **out:** an agent answers in kefu -> kefu posts a signed `message.created` webhook to the
  connector -> the connector checks the signature and sends the answer to the marketplace.

Here the marketplace is a stand-in: buyers' messages arrive as `POST /marketplace` with
`{"buyer_id", "msg_id", "text"}`, and answers are printed, or posted as JSON to
`MARKETPLACE_URL` if set.

    export KEFU_URL=http://127.0.0.1:8000 KEFU_API_KEY=kefu_…   # kefu api-key create SHOP relay
    python scripts/connector-example.py register http://127.0.0.1:8765/kefu   # prints the secret
    export KEFU_WEBHOOK_SECRET=whsec_…
    python scripts/connector-example.py serve --port 8765
    curl -X POST localhost:8765/marketplace -d '{"buyer_id": "tb_1", "msg_id": "1", "text": "在吗"}'
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHANNEL = "example"  # the conversation's `channel` in kefu: lets us ignore other channels' events
TOLERANCE_S = 300
SEEN: set[int] = set()  # delivery ids already handled: kefu delivers at least once


def kefu(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call kefu's REST API with the API key; raises with kefu's answer on an error status."""
    request = urllib.request.Request(
        os.environ.get("KEFU_URL", "http://127.0.0.1:8000") + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {os.environ['KEFU_API_KEY']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise SystemExit(f"kefu {method} {path}: HTTP {error.code} {error.read().decode()}") from None


def signature_ok(secret: str, header: str, body: bytes, now: float) -> bool:
    """Check X-Kefu-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>."""
    parts = [part.partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in parts if name.strip() == "t"]
    candidates = [value for name, _, value in parts if name.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > TOLERANCE_S:
        return False  # missing, malformed or too old: a replay
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def relay_in(buyer_id: str, msg_id: str, text: str) -> dict[str, Any]:
    """A marketplace buyer's message into kefu; msg_id makes a retried relay harmless."""
    body = {"buyer_id": buyer_id, "client_msg_id": msg_id, "text": text, "channel": CHANNEL}
    return kefu("POST", "/api/v1/messages", body)


def relay_out(message: dict[str, Any]) -> None:
    """An agent's answer out to the marketplace (here: printed, or posted to MARKETPLACE_URL)."""
    outgoing = {"to_buyer": message["buyer_id"], "text": message["text"], "kind": message["kind"]}
    target = os.environ.get("MARKETPLACE_URL")
    if not target:
        print(f"-> {outgoing['to_buyer']}: {outgoing['text']}", flush=True)
        return
    request = urllib.request.Request(
        target, data=json.dumps(outgoing).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).close()


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/marketplace":
            incoming = json.loads(body)
            ack = relay_in(incoming["buyer_id"], str(incoming["msg_id"]), incoming["text"])
            print(f"<- {incoming['buyer_id']}: {incoming['text']} (seq {ack['seq']})", flush=True)
            return self._answer(204)
        if self.path != "/kefu":
            return self._answer(404)
        # Verify against the raw bytes, before parsing: re-serialised JSON would not match.
        if not signature_ok(
            os.environ["KEFU_WEBHOOK_SECRET"], self.headers.get("X-Kefu-Signature", ""), body, time.time()
        ):
            return self._answer(401)
        event = json.loads(body)
        if event["id"] not in SEEN:
            SEEN.add(event["id"])
            data = event["data"]
            # Only answers from people, in our channel's conversations; the buyer's own messages
            # (which we relayed in) come back as events too and must not be echoed out.
            if (
                event["event"] == "message.created"
                and data["sender"] != "buyer"
                and data["channel"] == CHANNEL
            ):
                relay_out(data)
        # Any 2xx tells kefu it arrived; anything else is retried with backoff.
        self._answer(204)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="subscribe URL to message.created; prints the secret")
    register.add_argument("url")
    serve = commands.add_parser("serve", help="receive kefu's webhooks and the stand-in marketplace")
    serve.add_argument("--port", type=int, default=8765)
    send = commands.add_parser("send", help="relay one buyer message into kefu")
    send.add_argument("buyer_id")
    send.add_argument("text")
    arguments = parser.parse_args()

    if arguments.command == "register":
        webhook = kefu("POST", "/api/v1/webhooks", {"url": arguments.url, "events": ["message.created"]})
        print(f"webhook {webhook['id']}: export KEFU_WEBHOOK_SECRET={webhook['secret']}")
    elif arguments.command == "send":
        print(relay_in(arguments.buyer_id, f"cli-{time.time_ns()}", arguments.text))
    else:
        if not os.environ.get("KEFU_WEBHOOK_SECRET"):
            sys.exit("set KEFU_WEBHOOK_SECRET (printed by the register command)")
        print(f"listening on http://127.0.0.1:{arguments.port} (/kefu for webhooks, /marketplace for buyers)")
        ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
