"""Plugging the service desk into messaging and the websocket, without them importing it."""

from __future__ import annotations


def connect() -> None:
    pass
