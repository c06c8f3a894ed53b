"""The floor: the least any receiver must do for the same webhooks, as a raw ASGI app.

It parses the same JSON, checks the same URL secret (Evolution) or `X-Hub-Signature-256`
(Cloud API, constant-time), inserts one row per message or receipt with its unique id
(`INSERT … ON CONFLICT DO NOTHING`, one statement per POST, in its own table of the same
database), publishes one event per POST (Redis `PUBLISH` when FLOOR_REDIS_URL is set; else an
in-process queue) and answers 200. Its CPU per message is the unit the report divides by.

Configured from the environment: FLOOR_DATABASE (a SQLite path or a postgres:// URL),
FLOOR_REDIS_URL, FLOOR_SECRETS (JSON: {url secret: app secret or ""}). Served by uvicorn:
`python -m bench.floor --port P [--workers N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

TABLE = "bench_floor_message"
CREATE_TABLE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id VARCHAR(200) PRIMARY KEY)"
PG_POOL_SIZE = 4
EVENT_CHANNEL = "bench.floor"
SIGNATURE_HEADER = b"x-hub-signature-256"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def item_ids(data: Any) -> list[str]:
    """The unique ids one webhook body carries: messages by id, receipts as `status:id`."""
    ids: list[str] = []
    if not isinstance(data, dict):
        return ids
    if "entry" in data:  # Cloud API
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                ids += [str(message["id"]) for message in value.get("messages") or []]
                ids += [f"{s['status']}:{s['id']}" for s in value.get("statuses") or []]
        return ids
    event = str(data.get("event", "")).lower().replace("_", ".")
    item = data.get("data") or {}
    if event == "messages.upsert":
        ids.append(str(item["key"]["id"]))
    elif event == "messages.update":
        ids.append(f"{item['status']}:{item['keyId']}")
    return ids


def signature_ok(body: bytes, given: str, app_secret: str) -> bool:
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, timeout=20, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.events: deque[bytes] = deque(maxlen=1000)

    async def store(self, ids: list[str]) -> None:
        # One short write in the loop: SQLite has one writer anyway.
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany(
            f"INSERT INTO {TABLE} (id) VALUES (?) ON CONFLICT DO NOTHING",  # noqa: S608
            [(item,) for item in ids],
        )
        self.connection.execute("COMMIT")

    async def publish(self, event: bytes) -> None:
        self.events.append(event)


class PostgresStore:
    def __init__(self, url: str, redis_url: str) -> None:
        self.url = url
        self.redis_url = redis_url
        self.pool: asyncio.Queue[Any] = asyncio.Queue()
        self.redis: Any = None
        self.events: deque[bytes] = deque(maxlen=1000)

    async def open(self) -> None:
        import psycopg

        for _ in range(PG_POOL_SIZE):
            self.pool.put_nowait(await psycopg.AsyncConnection.connect(self.url, autocommit=True))
        if self.redis_url:
            import redis.asyncio

            self.redis = redis.asyncio.Redis.from_url(self.redis_url)

    async def store(self, ids: list[str]) -> None:
        connection = await self.pool.get()
        try:
            await connection.execute(
                f"INSERT INTO {TABLE} (id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                (ids,),
            )
        finally:
            self.pool.put_nowait(connection)

    async def publish(self, event: bytes) -> None:
        if self.redis is None:
            self.events.append(event)
        else:
            await self.redis.publish(EVENT_CHANNEL, event)


class Floor:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = json.loads(os.environ.get("FLOOR_SECRETS", "{}"))
        self.database = os.environ.get("FLOOR_DATABASE", "")
        self.redis_url = os.environ.get("FLOOR_REDIS_URL", "")
        self.store: SqliteStore | PostgresStore | None = None

    async def startup(self) -> None:
        if self.database.startswith("postgres"):
            store = PostgresStore(self.database, self.redis_url)
            await store.open()
            self.store = store
        else:
            self.store = SqliteStore(self.database)

    def connection_for(self, path: str) -> str | None:
        """The app secret ("" for Evolution) of the URL's secret, or None when unknown."""
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["hooks", "whatsapp"]:
            return None
        given = parts[2].encode()
        found = None
        for secret, app_secret in self.secrets.items():
            if hmac.compare_digest(secret.encode(), given):
                found = app_secret
        return found

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            await _answer(send, 200, b'{"status":"ok"}')
            return
        app_secret = self.connection_for(scope["path"])
        if app_secret is None or scope["method"] != "POST":
            await _answer(send, 404, b'{"code":"not_found"}')
            return
        body = await _body(receive)
        if app_secret:
            given = dict(scope["headers"]).get(SIGNATURE_HEADER, b"").decode("latin-1")
            if not signature_ok(body, given, app_secret):
                await _answer(send, 403, b'{"code":"permission_denied"}')
                return
        try:
            ids = item_ids(json.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError):
            await _answer(send, 400, b'{"code":"bad_request"}')
            return
        assert self.store is not None
        if ids:
            await self.store.store(ids)
        await self.store.publish(json.dumps({"type": "floor", "ids": ids[:1]}).encode())
        await _answer(send, 200, b'{"status":"ok","stored":%d}' % len(ids))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = Floor()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the benchmark's floor.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.floor:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
