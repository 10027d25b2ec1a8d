"""kubesim fault injection (errors, Retry-After, latency, lost responses) and concurrency."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes.client.exceptions import ApiException

from tests.kubesim_helpers import NAMESPACE, Kube, compliant_pod, error_body

PODS_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods"


def codes(kube: Kube, count: int) -> list[int]:
    return [kube.raw("GET", PODS_PATH)[0] for _ in range(count)]


def test_seeded_error_rate_is_close_to_the_rate_and_repeatable(kube: Kube) -> None:
    kube.admin("POST", "/_sim/config", {"error_rate": 0.2, "seed": 7})
    first = codes(kube, 400)
    failures = sum(code != 200 for code in first)
    assert 60 <= failures <= 100  # 20 % of 400, give or take
    assert set(first) <= {200, 429, 500, 503}
    kube.admin("POST", "/_sim/config", {"seed": 7})  # same seed, same dice
    assert codes(kube, 400) == first
    stats = kube.admin("GET", "/_sim/stats")
    assert sum(stats["faults"].values()) == 2 * failures
    assert stats["requests"]["list"]["pods"] == 800


def test_injected_429_carries_retry_after_and_a_status_body(kube: Kube) -> None:
    kube.sim.configure(fail_next=1, error_codes=[429], retry_after_seconds=3)
    status, headers, body = kube.raw("GET", PODS_PATH)
    assert status == 429
    assert headers["Retry-After"] == "3"
    parsed = json.loads(body)
    assert parsed["reason"] == "TooManyRequests"
    assert parsed["details"]["retryAfterSeconds"] == 3
    with pytest.raises(ApiException) as error:
        kube.sim.configure(fail_next=1, error_codes=[503])
        kube.core.list_namespaced_pod(NAMESPACE)
    assert error.value.status == 503
    assert error_body(error.value)["reason"] == "ServiceUnavailable"


def test_latency_is_applied(kube: Kube) -> None:
    kube.sim.configure(latency_ms=120)
    began = time.monotonic()
    assert kube.raw("GET", PODS_PATH)[0] == 200
    assert time.monotonic() - began >= 0.12
    assert kube.admin("GET", "/_sim/stats")["delayed_requests"] >= 1


def test_faults_can_be_limited_to_verbs(kube: Kube) -> None:
    kube.sim.configure(error_rate=1.0, fault_verbs=["create"], error_codes=[500])
    assert kube.raw("GET", PODS_PATH)[0] == 200
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("nope"))
    assert error.value.status == 500
    assert kube.core.list_namespaced_pod(NAMESPACE).items == []


def test_error_after_commit_loses_the_response_but_keeps_the_write(kube: Kube) -> None:
    kube.sim.configure(fail_next=1, error_codes=[504], error_after_commit=1.0)
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("lost"))
    assert error.value.status == 504
    with pytest.raises(ApiException) as retry:
        kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("lost"))
    assert retry.value.status == 409  # the retry learns it was done


def test_admin_config_rejects_unknown_or_invalid_values(kube: Kube) -> None:
    status, _, _ = kube.raw("POST", "/_sim/config", json.dumps({"error_rate": 2}).encode())
    assert status == 422
    status, _, _ = kube.raw("POST", "/_sim/config", json.dumps({"nonsense": 1}).encode())
    assert status == 422
    status, _, _ = kube.raw("GET", "/_sim/stats", token="wrong")
    assert status == 401


def test_two_hundred_concurrent_creates_all_succeed_with_unique_versions(kube: Kube) -> None:
    kube.sim.configure(latency_ms=20, schedule_delay=30)
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("warm-up"))  # builds the client models

    def create(index: int) -> str:
        pod = compliant_pod(f"load-{index}", cpu="10m")
        version: str = kube.core.create_namespaced_pod(NAMESPACE, pod).metadata.resource_version
        return version

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        versions = list(pool.map(create, range(200)))
    elapsed = time.monotonic() - began
    assert len(set(versions)) == 200
    assert len(kube.core.list_namespaced_pod(NAMESPACE).items) == 201
    assert elapsed < 10, f"200 creates took {elapsed:.2f} s"
    responses = Counter(kube.admin("GET", "/_sim/stats")["responses"])
    assert responses["201"] == 201
