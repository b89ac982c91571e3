"""The KubeRay manifest runs Ray with token authentication and behind a NetworkPolicy (issue 9, item 1)."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT

MANIFEST = ROOT / "cluster" / "kuberay" / "rayservice.yaml"


def _docs() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc}


def _containers(service: dict) -> list[dict]:
    cluster = service["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [c for g in groups for c in g["template"]["spec"]["containers"]]


def test_ray_token_auth_from_a_secret_and_never_disabled() -> None:
    service = _docs()["RayService"]
    auth = service["spec"]["rayClusterConfig"]["authOptions"]
    assert auth["mode"] == "token" and auth["secretName"]
    for container in _containers(service):
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env.get("RAY_AUTH_MODE") in (None, "token")  # KubeRay sets it from authOptions
        assert "RAY_AUTH_TOKEN" not in env  # never a literal token in the manifest
        assert env["RAY_SERVE_HAPROXY_BINARY_PATH"].endswith("haproxy-hardened")
        assert env["RAY_RUNTIME_ENV_HOOK"] == "config.ray_hooks.runtime_env_hook"
        assert env["FORWARDED_ALLOW_IPS"] == ""
    apps = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    assert apps and all(
        app["runtime_env"]["worker_process_setup_hook"] == "config.ray_hooks.bind_grpc_to_node_ip" for app in apps
    )
    config = _docs()["ConfigMap"]["data"]
    assert not any("PASSWORD" in k or "SECRET" in k for k in config)  # secrets live in Secrets only


def test_network_policy_admits_only_the_ingress_to_serve_and_members_to_ray() -> None:
    docs = _docs()
    policy = docs["NetworkPolicy"]["spec"]
    members = policy["podSelector"]["matchLabels"]
    service = docs["RayService"]["spec"]["rayClusterConfig"]
    for group in (service["headGroupSpec"], *service["workerGroupSpecs"]):
        assert members.items() <= group["template"]["metadata"]["labels"].items()  # the policy selects every Ray pod
    assert policy["policyTypes"] == ["Ingress"]
    rules = policy["ingress"]
    for rule in rules:
        assert rule.get("from"), "a rule without `from` would admit everyone"
        for peer in rule["from"]:
            assert "ipBlock" not in peer
    unrestricted_ports = [rule for rule in rules if "ports" not in rule]
    assert unrestricted_ports == [{"from": [{"podSelector": {"matchLabels": members}}]}]  # only members: any port
    ingress = [rule for rule in rules if {"protocol": "TCP", "port": 8000} in rule.get("ports", [])]
    assert len(ingress) == 1 and ingress[0]["ports"] == [{"protocol": "TCP", "port": 8000}]
