"""Behind HAProxy each client keeps its own address (issue 9, item 9).

HAProxy appends the client's address to X-Forwarded-For (`option forwardfor`, cluster/haproxy-hardened) and the
app believes only that entry, and only from the trusted ingress. So one address exhausting its login bucket does
not lock another out, and a client-supplied X-Forwarded-For changes nothing. The clients bind their own loopback
source addresses (127.0.0.2, 127.0.0.3, ...: Linux answers all of 127/8).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from config.settings import Settings
from storage.redis_store import build_sync_redis
from tests.e2e.conftest import client_from, new_account

ATTACKER, VICTIM = "127.0.0.2", "127.0.0.3"


@pytest.fixture()
def clean_buckets(settings: Settings):
    """The two addresses start with full login buckets (and leave none behind)."""
    redis = build_sync_redis(settings)
    keys = [f"rl:login:ip:{ip}" for ip in (ATTACKER, VICTIM, "203.0.113.66")]
    redis.delete(*keys)
    yield
    redis.delete(*keys)


def _wrong_login(client: httpx.Client, **headers: str) -> int:
    body = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "wrong password"}
    return client.post("/auth/login", json=body, headers=headers).status_code


def test_one_address_exhausting_its_login_bucket_does_not_lock_out_another(
    api: httpx.Client, settings: Settings, clean_buckets: None
) -> None:
    victim_account = new_account(api)
    with client_from(api, ATTACKER) as attacker, client_from(api, VICTIM) as victim:
        codes = [_wrong_login(attacker) for _ in range(settings.rate_login_ip_capacity + 5)]
        assert codes[0] == 401 and codes[-1] == 429  # the attacker's own bucket ran dry
        r = victim.post("/auth/login", json={"email": victim_account.email, "password": victim_account.password})
        assert r.status_code == 200, r.text
        # a spoofed header does not move the attacker to a fresh bucket, nor into the victim's
        assert _wrong_login(attacker, **{"X-Forwarded-For": "203.0.113.66"}) == 429
        assert _wrong_login(attacker, **{"X-Forwarded-For": VICTIM}) == 429
    redis = build_sync_redis(settings)
    assert redis.exists(f"rl:login:ip:{ATTACKER}") and redis.exists(f"rl:login:ip:{VICTIM}")
    assert not redis.exists("rl:login:ip:203.0.113.66")  # no bucket was ever made for the spoofed address


def test_a_spoofed_forwarded_for_from_the_ingress_address_is_not_believed(
    api: httpx.Client, settings: Settings, clean_buckets: None
) -> None:
    # 127.0.0.1 is also where HAProxy connects from: a header sent by a client on that address must not count
    # either (nor may uvicorn in Serve's replica rewrite the peer from it: FORWARDED_ALLOW_IPS is empty)
    redis = build_sync_redis(settings)
    redis.delete("rl:login:ip:127.0.0.1", "rl:login:ip:198.51.100.1")
    with client_from(api, "127.0.0.1") as client:
        assert _wrong_login(client, **{"X-Forwarded-For": "203.0.113.66, 198.51.100.1"}) == 401
    assert redis.exists("rl:login:ip:127.0.0.1")
    assert not redis.exists("rl:login:ip:203.0.113.66") and not redis.exists("rl:login:ip:198.51.100.1")
