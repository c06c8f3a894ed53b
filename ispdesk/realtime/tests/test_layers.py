"""Sending to many groups at once over a real Redis: what `group_send` for each would do, in
two pipelines."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from ispdesk.realtime.layers import PipelinedRedisChannelLayer

TIMEOUT = 5


@pytest.fixture
async def layer(redis_url: str) -> AsyncIterator[PipelinedRedisChannelLayer]:
    layer = PipelinedRedisChannelLayer(hosts=[redis_url], prefix="ispdesk-test", capacity=3)
    yield layer
    await layer.flush()
    await layer.close_pools()


async def received(layer: PipelinedRedisChannelLayer, channel: str, count: int) -> list[Any]:
    return [(await layer.receive(channel))["n"] for _ in range(count)]


async def test_each_member_gets_its_groups_messages_in_the_order_sent(layer):
    ana, beto = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("area.1", ana)
    await layer.group_add("area.1", beto)
    await layer.group_add("conversation.7", ana)
    sends = [
        ("area.1", {"type": "t", "n": 1}),
        ("conversation.7", {"type": "t", "n": 2}),
        ("conversation.8", {"type": "t", "n": 3}),  # nobody has it open
        ("area.1", {"type": "t", "n": 4}),
    ]

    await layer.group_send_many(sends)

    assert await received(layer, ana, 3) == [1, 2, 4]
    assert await received(layer, beto, 2) == [1, 4]


async def test_it_costs_two_round_trips_whatever_the_number_of_groups(layer, monkeypatch):
    listener = await layer.new_channel()
    for n in range(20):
        await layer.group_add(f"area.{n}", listener)
    executed: list[int] = []
    original = redis.asyncio.client.Pipeline.execute

    async def counted(pipe: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(len(pipe.command_stack))
        return await original(pipe, *args, **kwargs)

    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", counted)

    await layer.group_send_many([(f"conversation.{n}", {"type": "t", "n": n}) for n in range(50)])
    await layer.group_send_many([(f"area.{n}", {"type": "t", "n": n}) for n in range(20)])

    # Reading 50 groups' members (nobody in them): one pipeline. Reading 20 and delivering
    # to their member: two.
    assert len(executed) == 3
    assert await received(layer, listener, 3) == [0, 1, 2]  # then its capacity of 3 was full


async def test_a_full_channel_drops_what_does_not_fit_and_says_so(layer, caplog):
    slow = await layer.new_channel()
    await layer.group_add("role.admin", slow)

    with caplog.at_level(logging.INFO, logger="ispdesk.realtime.layers"):
        await layer.group_send_many([("role.admin", {"type": "t", "n": n}) for n in range(5)])

    assert await received(layer, slow, 3) == [0, 1, 2]
    assert "1 of 1 channels over capacity in group role.admin" in caplog.text


async def test_members_whose_membership_expired_get_nothing(layer):
    gone, here = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("area.2", here)
    # A consumer that died without leaving: its membership is older than group_expiry.
    old = time.time() - layer.group_expiry - 10
    async with layer.connection(layer.consistent_hash("area.2")) as connection:
        await connection.zadd(layer._group_key("area.2"), {gone: old})

    await layer.group_send_many(
        [("area.2", {"type": "t", "n": 1}), ("area.2", {"type": "t", "n": 2})]
    )

    assert await received(layer, here, 2) == [1, 2]
    async with layer.connection(layer.consistent_hash("area.2")) as connection:
        assert await connection.zrange(layer._group_key("area.2"), 0, -1) == [here.encode()]


async def test_a_later_call_s_messages_come_after_an_earlier_call_s(redis_url):
    roomy = PipelinedRedisChannelLayer(hosts=[redis_url], prefix="ispdesk-test", capacity=100)
    admin = await roomy.new_channel()
    await roomy.group_add("role.admin", admin)

    await roomy.group_send_many([("role.admin", {"type": "t", "n": n}) for n in range(40)])
    await roomy.group_send_many([("role.admin", {"type": "t", "n": 40})])

    assert await received(roomy, admin, 41) == list(range(41))
    await roomy.flush()
    await roomy.close_pools()


async def test_a_send_that_cannot_go_is_skipped_and_the_others_go(layer, caplog):
    listener = await layer.new_channel()
    await layer.group_add("area.1", listener)

    with caplog.at_level(logging.ERROR, logger="ispdesk.realtime.layers"):
        await layer.group_send_many(
            [
                ("area.1", {"type": "t", "n": 1}),
                ("not a group!", {"type": "t", "n": 2}),
                ("area.1", {"type": "t", "n": object()}),  # does not serialise
                ("area.1", {"type": "t", "n": 3}),
            ]
        )

    assert await received(layer, listener, 2) == [1, 3]
    assert "not a valid group name" in caplog.text
    assert "could not serialise" in caplog.text
