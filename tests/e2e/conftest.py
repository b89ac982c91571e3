"""Shared e2e helpers: make a unique account and log it in over HTTP.

Each login comes from its own random loopback source address (127.64.0.0/10; Linux answers every 127/8 address
without set-up), so per-IP login buckets of different tests never collide. An X-Forwarded-For header would not do:
the app believes only the entry the ingress appends (serve_app.auth.client_ip). Registrations leave from random
loopback addresses too (per-address registration buckets).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

DEFAULT_PASSWORD = "correct horse battery staple"


def fake_ip() -> str:
    """A random loopback address in 127.64.0.0/10 (127.0.0.0/10 stays free for explicit tests)."""
    return f"127.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def client_from(api: httpx.Client, ip: str) -> httpx.Client:
    """A client like `api` whose connections leave from source address `ip` (a loopback address)."""
    return httpx.Client(base_url=api.base_url, timeout=api.timeout, transport=httpx.HTTPTransport(local_address=ip))


@dataclass
class Account:
    """A registered, logged-in test user."""

    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    ip: str
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for the access token."""
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(tag: str = "user") -> str:
    """An email no other test uses."""
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def register(api: httpx.Client, ip: str | None = None, **fields: Any) -> dict[str, Any]:
    """POST /users with sensible defaults from client address `ip` (a random loopback address by default, so
    per-address registration buckets of different tests never collide); returns the answer's JSON (asserts 202:
    the same answer whether or not the email was taken; log in to get the account)."""
    body = {"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "Test Athlete", **fields}
    with client_from(api, ip or fake_ip()) as client:
        r = client.post("/users", json=body)
    assert r.status_code == 202, r.text
    return r.json()


def login(api: httpx.Client, email: str, password: str = DEFAULT_PASSWORD, ip: str | None = None) -> httpx.Response:
    """POST /auth/login with JSON from client address `ip` (a random loopback address by default)."""
    with client_from(api, ip or fake_ip()) as client:
        return client.post("/auth/login", json={"email": email, "password": password})


def new_account(api: httpx.Client, **fields: Any) -> Account:
    """Register a unique user and log in (one token of the account's login bucket; no API token is spent: the
    user id comes from the access token's `sub`)."""
    import jwt

    fields.setdefault("email", unique_email())
    password = fields.setdefault("password", DEFAULT_PASSWORD)
    register(api, **fields)
    ip = fake_ip()
    r = login(api, fields["email"], password, ip)
    assert r.status_code == 200, r.text
    tokens = r.json()
    user_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    return Account(
        user_id=user_id,
        email=fields["email"],
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        ip=ip,
        profile={k: v for k, v in fields.items() if k != "password"},
    )


def register_and_login(api: httpx.Client, **fields: Any) -> tuple[str, dict[str, str]]:
    """(user_id, Authorization headers) of a fresh unique user."""
    account = new_account(api, **fields)
    return account.user_id, account.headers


def deployed_topology(settings: Any) -> Any:
    """The actor topology running in the session's Ray. Never recompute it with `Topology.for_settings(settings)`:
    its version fingerprints the code, and a file edited since the session deployed gives another version."""
    import ray

    from actors.topology import PREFIX, Topology

    suffix = "-dispatcher"
    names = [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == settings.ray_namespace
        and a["name"].startswith(f"{PREFIX}-")
        and a["name"].endswith(suffix)
    ]
    assert len(names) == 1, names
    return Topology.for_settings(settings, names[0][len(PREFIX) + 1 : -len(suffix)])
