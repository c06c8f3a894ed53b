"""Operator consoles without a browser: N websocket clients that record every event.

Run as a subprocess (`python -m bench.wsclients --url ws://… --clients clients.json --out
events.jsonl`) so that receiving events never competes with the load generator's loop. Each
client logs in with a session cookie, says `console:hello` (presence: the desk routes chats
only to operators online) and joins its areas' groups and the general queue, as the console
page does (`desk.js`); supervisors keep their role group. It pings every 25 s like the page.

On stdin: `status` prints `{"events": n, "last": t}`; `stop` writes every event recorded as
one JSON line `{"client", "at", "event"}` (at: wall-clock arrival) to --out, prints `done`
and exits (and each client's connection closes to `<out>.closes.json`). `ready` is
printed once every client is connected and subscribed. A closed connection is reopened
with the page's backoff (`realtime.js`), and counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PING_SECONDS = 25.0
MIN_BACKOFF = 1.0
MAX_BACKOFF = 30.0
CLOSE_UNAUTHENTICATED = 4401
CONNECT_TIMEOUT = 20.0
# Frames about the socket itself, not events for the screen.
CONTROL_TYPES = frozenset(
    {"hello", "subscribed", "subscribe:denied", "unsubscribed", "pong", "presence"}
)


@dataclass
class Client:
    name: str
    session_key: str
    role: str
    areas: list[int]
    events: list[tuple[float, str]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    # Every time the connection closed (wall time, why); a failure stops reconnecting.
    closes: list[tuple[float, str]] = field(default_factory=list)
    failed: str = ""

    def groups_to_join(self) -> list[str]:
        if self.role != "operator":
            return []
        return [*(f"area.{area}" for area in self.areas), "area.general"]


async def _pinger(socket: ClientConnection) -> None:
    while True:
        await asyncio.sleep(PING_SECONDS)
        await socket.send(json.dumps({"type": "ping"}))


async def _session(url: str, origin: str, client: Client) -> None:
    """One connection, from the handshake until the server or the network closes it."""
    headers = {"Cookie": f"sessionid={client.session_key}"}
    pinger: asyncio.Task[None] | None = None
    try:
        async with connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers=headers,
            max_size=2**22,
        ) as socket:
            pending = set(client.groups_to_join())
            async for raw in socket:
                at = time.time()
                text = raw if isinstance(raw, str) else raw.decode()
                frame = json.loads(text)
                kind = frame.get("type")
                if kind not in CONTROL_TYPES:
                    client.events.append((at, text))
                elif kind == "hello":
                    if client.role == "operator":
                        await socket.send(json.dumps({"type": "console:hello"}))
                    for group in pending:
                        await socket.send(json.dumps({"type": "subscribe", "group": group}))
                    if not pending:
                        client.subscribed.set()
                    pinger = pinger or asyncio.create_task(_pinger(socket))
                elif kind == "subscribed":
                    pending.discard(frame.get("group"))
                    if not pending:
                        client.subscribed.set()
                elif kind == "subscribe:denied":
                    client.failed = f"subscription denied: {text}"
                    client.subscribed.set()
            client.closes.append((time.time(), f"closed by the server ({socket.close_code})"))
            if socket.close_code == CLOSE_UNAUTHENTICATED:
                client.failed = "the server refused the session (4401)"
    except (OSError, ConnectionClosed) as exc:
        client.closes.append((time.time(), f"{type(exc).__name__}: {exc}"))
    finally:
        if pinger is not None:
            pinger.cancel()


async def _client(url: str, origin: str, client: Client) -> None:
    """Keep a console connected: reconnect after a close with the page's backoff (1 s,
    doubling to 30 s), counting every reconnect."""
    failures = 0
    while not client.failed:
        opened = time.time()
        await _session(url, origin, client)
        if client.failed:
            break
        failures = 0 if time.time() - opened > MAX_BACKOFF else failures + 1
        if not client.subscribed.is_set() and failures > 3:
            client.failed = client.closes[-1][1] if client.closes else "could not connect"
            break
        await asyncio.sleep(min(MAX_BACKOFF, MIN_BACKOFF * 2 ** max(0, failures - 1)))
    client.subscribed.set()


async def _commands(clients: list[Client], out: Path) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "status":
            events = [event for client in clients for event in client.events]
            last = max((at for at, _text in events), default=0.0)
            closes = {client.name: len(client.closes) for client in clients if client.closes}
            print(json.dumps({"events": len(events), "last": last, "closes": closes}), flush=True)
        elif line in ("stop", ""):
            with out.open("w") as handle:
                for client in clients:
                    for at, text in client.events:
                        handle.write(
                            f'{{"client": {json.dumps(client.name)}, "at": {at!r}, '
                            f'"event": {text}}}\n'
                        )
            closed = {client.name: client.closes for client in clients if client.closes}
            closes_path(out).write_text(json.dumps(closed))
            print("done", flush=True)
            return


def closes_path(out: Path) -> Path:
    """Where `stop` writes each client's closes: {name: [[wall time, why], ...]}."""
    return out.with_name(out.name + ".closes.json")


async def main_async(url: str, clients: list[Client], out: Path) -> int:
    parts = urlsplit(url)
    origin = f"http://{parts.netloc}"
    tasks = [asyncio.create_task(_client(url, origin, client)) for client in clients]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(client.subscribed.wait() for client in clients)), CONNECT_TIMEOUT
        )
    except TimeoutError:
        print(json.dumps({"error": "clients did not subscribe in time"}), flush=True)
        return 1
    failed = {client.name: client.failed for client in clients if client.failed}
    if failed:
        print(json.dumps({"error": "clients failed", "clients": failed}), flush=True)
        return 1
    print("ready", flush=True)
    await _commands(clients, out)
    for task in tasks:
        task.cancel()
    return 0


def load_clients(path: Path) -> list[Client]:
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return [
        Client(item["name"], item["session_key"], item["role"], list(item["areas"]))
        for item in data
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="ws://host:port/ws/")
    parser.add_argument("--clients", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main_async(args.url, load_clients(args.clients), args.out)))


if __name__ == "__main__":
    main()
