"""The actor topology (issue 9 item 20): names carry a version of (settings, code); deploying a new version retires
every actor of the old one, so a session id is never owned by two shards."""

from __future__ import annotations

import uuid

import pytest
import ray

from actors.gateway import shard_for
from actors.topology import Topology, deploy, lookup, topology_version
from config.settings import Settings


def _alive(name: str, namespace: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
        return True
    except ValueError:
        return False


@pytest.fixture()
def isolated(settings: Settings, ray_cluster: None) -> Settings:
    """The test settings in a namespace of their own (the e2e app's actors are never touched)."""
    return settings.model_copy(update={"ray_namespace": f"topology-{uuid.uuid4().hex[:8]}"})


def test_the_version_follows_every_setting_and_the_code() -> None:
    a = Settings(jwt_secret="x" * 40, workout_shards=2)
    assert topology_version(a, code="c1") == topology_version(a.model_copy(), code="c1")
    assert topology_version(a, code="c1") != topology_version(a.model_copy(update={"workout_shards": 3}), code="c1")
    assert topology_version(a, code="c1") != topology_version(a.model_copy(update={"rate_api_capacity": 1}), code="c1")
    assert topology_version(a, code="c1") != topology_version(a, code="c2")
    names = Topology.for_settings(a, "v1")
    assert names.workout_shards == ("stride-v1-workout-0", "stride-v1-workout-1")


def test_a_new_shard_count_retires_the_old_shards_so_no_session_has_two_owners(isolated: Settings) -> None:
    ns = isolated.ray_namespace
    old = deploy(isolated.model_copy(update={"workout_shards": 2}))
    assert all(_alive(n, ns) for n in old.topology.names())
    new = deploy(isolated.model_copy(update={"workout_shards": 3}))
    assert new.topology.version != old.topology.version
    assert not any(_alive(n, ns) for n in old.topology.names())  # every old actor is gone
    assert all(_alive(n, ns) for n in new.topology.names())
    # every session id now has exactly one possible owner, among live shards only
    for _ in range(50):
        activity_id = uuid.uuid4()
        owner = new.topology.workout_shards[shard_for(activity_id, 3)]
        assert _alive(owner, ns)
    assert lookup(new.topology, wait_s=5).topology == new.topology
    with pytest.raises(RuntimeError):
        lookup(old.topology, wait_s=1)


def test_redeploying_the_same_version_keeps_the_running_actors(isolated: Settings) -> None:
    first = deploy(isolated)
    ids = [h._actor_id for h in first.workout_shards]
    again = deploy(isolated)
    assert [h._actor_id for h in again.workout_shards] == ids
