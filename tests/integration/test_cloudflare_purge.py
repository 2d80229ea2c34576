"""Cloudflare purges by tag: batched, spaced, retried on 429, and made by the leader process only."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from delivery.assets.edge import EdgePurger, ServedUrls
from delivery.settings import Settings
from harness.fake_cloudflare import TOKEN, ZONE, FakeCloudflare
from tests.waiting import until


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    with FakeCloudflare() as fake:
        yield fake


def edge_settings(cloudflare: FakeCloudflare, token: str = TOKEN) -> Settings:
    return Settings(
        cloudflare_zone_id=ZONE,
        cloudflare_api_token=token,
        cloudflare_api_url=cloudflare.url,
        cloudflare_purge_batch=3,
        cloudflare_purge_interval=0.2,
        cloudflare_purge_attempts=3,
    )


async def test_tags_are_batched_spaced_and_retried(cloudflare: FakeCloudflare) -> None:
    purger = EdgePurger(edge_settings(cloudflare), ServedUrls(), is_leader=lambda: True)
    purger.start()
    try:
        cloudflare.throttle(1)  # the first request is told to wait (Retry-After: 1)
        for n in range(7):
            purger.changed(f"a{n}")
        purger.changed("a0")  # changed again before its purge went out: one tag
        await until(lambda: len(cloudflare.tags()) == 7, "every tag is purged", timeout=10)
    finally:
        await purger.stop()
    accepted = cloudflare.accepted()
    assert [p.body["tags"] for p in accepted] == [["asset-a0", "asset-a1", "asset-a2"], ["asset-a3", "asset-a4", "asset-a5"], ["asset-a6"]]
    assert [p.status for p in cloudflare.purges] == [429, 200, 200, 200]
    assert cloudflare.purges[1].at - cloudflare.purges[0].at >= 1.0  # Retry-After honoured
    assert all(b.at - a.at >= 0.2 for a, b in itertools.pairwise(accepted))  # spaced by the interval


async def test_only_the_leader_purges_cloudflare(cloudflare: FakeCloudflare) -> None:
    follower = EdgePurger(edge_settings(cloudflare), ServedUrls(), is_leader=lambda: False)
    leader = EdgePurger(edge_settings(cloudflare), ServedUrls(), is_leader=lambda: True)
    for purger in (follower, leader):
        purger.start()
        purger.changed("same")
    try:
        await until(lambda: bool(cloudflare.accepted()), "the leader purges", timeout=5)
    finally:
        await follower.stop()
        await leader.stop()
    assert cloudflare.tags() == ["asset-same"] and len(cloudflare.purges) == 1


async def test_a_refused_token_is_not_retried(cloudflare: FakeCloudflare) -> None:
    purger = EdgePurger(edge_settings(cloudflare, token="wrong"), ServedUrls(), is_leader=lambda: True)
    purger.start()
    try:
        purger.changed("x")
        await until(lambda: bool(cloudflare.purges), "the purge is tried", timeout=5)
        await asyncio.sleep(1.0)  # past the first backoff: a retry would have come
    finally:
        await purger.stop()
    assert [p.status for p in cloudflare.purges] == [403] and purger.sent == []
