"""The worker end to end: real Redis, the Kubernetes API over HTTP, the official client."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import redis

from functions.worker import builders
from functions.worker.builders import SELECTOR
from functions.worker.podstatus import IMAGE_PULL_FAILED, UNSCHEDULABLE, timed_out
from shared import keys
from shared.context import Context
from shared.records import Record
from shared.settings import SiteSettings
from tests.worker.support import (
    Target,
    create,
    delete,
    run_in_thread,
    run_job,
    state,
    template_settings,
    wait_for,
    worker_settings,
)


def contains(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Where `actual` (as the server keeps it) differs from what the builder set."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        problems: list[str] = []
        for key, value in expected.items():
            problems += contains(actual.get(key), value, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} != {expected!r}"]
        return [
            p
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for p in contains(a, e, f"{path}[{i}]")
        ]
    return [] if actual == expected else [f"{path}: {actual!r} != {expected!r}"]


def built(body: dict[str, Any]) -> dict[str, Any]:
    """What the builder sets, less apiVersion/kind (list items from the API carry neither)."""
    return {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}


def assert_group_clean(r: redis.Redis) -> None:
    """Everything delivered was acknowledged and deleted; lag exact (0), nothing trimmed."""
    (group,) = r.xinfo_groups(keys.STREAM)
    assert group["lag"] == 0 and group["pending"] == 0
    # Every entry ever added was read by the group: none vanished before delivery.
    assert group["entries-read"] == r.xinfo_stream(keys.STREAM)["entries-added"]
    assert r.xlen(keys.STREAM) == 0


@pytest.mark.slow
def test_500_creates_and_200_deletes_end_in_the_right_states(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    n, deletes = (500, 200) if target.sim else (20, 8)
    ids = create(ctx, "nginx", n)
    chosen = random.Random(4).sample(ids, deletes)
    early, late = chosen[: deletes // 2], chosen[deletes // 2 :]
    for container_id in early:  # deleted before any job saw the create
        delete(ctx, container_id)
    settings = worker_settings(target, linger=1.0)
    job, thread = run_in_thread(settings, redis_server.url)
    for container_id in late:  # deleted while the job works: some pending, some running
        wait_for(
            lambda i=container_id: state(redis_client, i)["phase"] != "queued",  # type: ignore[misc]
            timeout=60,
            what="the job",
        )
        delete(ctx, container_id)
    thread.join(timeout=120)
    assert not thread.is_alive()

    states = {i: state(redis_client, i) for i in ids}
    deleted = {i for i, s in states.items() if s["state"] == "deleted"}
    running = {i for i, s in states.items() if s["state"] == "running"}
    assert deleted == set(chosen), {s["state"] for s in states.values()}
    assert running == set(ids) - set(chosen)
    for container_id in running:
        fields = states[container_id]
        assert fields["url"] == f"https://{container_id}.sprout.localhost/"
        assert float(fields["started_at"]) >= float(fields["created_at"])

    # The cluster holds exactly the running containers' objects, as the builders made them.
    expected_names = sorted(builders.object_name(i) for i in running)
    assert target.objects() == {
        "pods": expected_names,
        "services": expected_names,
        "ingresses": expected_names,
    }
    templates = template_settings().by_name()
    serialize = target.api_client.sanitize_for_serialization
    pods = {p.metadata.name: serialize(p) for p in target.pods()}
    services = {
        s.metadata.name: serialize(s)
        for s in target.core.list_namespaced_service(
            target.namespace, label_selector=SELECTOR
        ).items
    }
    ingresses = {
        i.metadata.name: serialize(i)
        for i in target.networking.list_namespaced_ingress(
            target.namespace, label_selector=SELECTOR
        ).items
    }
    for container_id in running:
        record = Record.from_hash(states[container_id])
        name = builders.object_name(container_id)
        pod = pods[name]
        # Built at some moment between the create and the pod's start: its remaining lifetime.
        deadline = pod["spec"]["activeDeadlineSeconds"]
        assert math.ceil(record.expires_at - (record.started_at or 0)) <= deadline
        assert deadline <= math.ceil(record.expires_at - record.created_at)
        expected = built(
            builders.build_pod(
                record, templates["nginx"], settings, now=record.expires_at - deadline
            )
        )
        assert contains(pod, expected) == [], name
        assert pod["status"]["phase"] == "Running"
        expected = built(builders.build_service(record, templates["nginx"], settings))
        assert contains(services[name], expected) == []
        expected = built(builders.build_ingress(record, settings, SiteSettings()))
        assert contains(ingresses[name], expected) == []
    assert_group_clean(redis_client)
    assert job.report.dead_lettered == 0


def test_failures_end_failed_with_a_reason_a_person_can_read(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    deadline = 1.5 if target.sim else 90.0  # a cluster pulls images first
    cases = {
        "missing": IMAGE_PULL_FAILED,
        "crash": "It crashed (exit code 1).",
        "huge": UNSCHEDULABLE,
        "sleepy": timed_out(deadline),
    }
    ids = {template: create(ctx, template)[0] for template in cases}
    (invalid,) = create(ctx, "invalid")
    report = run_job(worker_settings(target, ready_deadline=deadline), redis_server.url)
    for template, reason in cases.items():
        record = state(redis_client, ids[template])
        assert (record["state"], record["error"]) == ("failed", reason), template
    record = state(redis_client, invalid)
    assert record["state"] == "failed"
    # A quantity the API cannot decode is a 400: permanent.
    assert record["error"].startswith("The cluster refused to create the pod (400: ")
    assert "quantities must match the regular expression" in record["error"]
    wait_for(lambda: not any(target.objects().values()), timeout=60, what="the objects to go")
    assert report.outcomes["failed"] == 5
    assert report.retried == 0  # a permanent refusal is not tried again
    if target.sim:  # one create each ("huge" is made, and stays unscheduled)
        assert target.stats()["requests"]["create"]["pods"] == 5
    assert_group_clean(redis_client)


def test_delete_racing_create_in_two_jobs_leaves_no_pod(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    n = 60 if target.sim else 10
    settings = worker_settings(target, linger=1.0, batch_size=5)
    jobs = [run_in_thread(settings, redis_server.url) for _ in range(2)]
    ids = []
    for _ in range(n):
        (container_id,) = create(ctx)
        ids.append(container_id)
        delete(ctx, container_id)  # right behind it: often while its create is in flight
    for _, thread in jobs:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert {state(redis_client, i)["state"] for i in ids} == {"deleted"}
    wait_for(
        lambda: not any(target.objects().values()), timeout=30, what="no pod, service, ingress"
    )
    assert_group_clean(redis_client)


def test_a_create_whose_record_is_gone_or_no_longer_pending_does_nothing(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    gone, deleted = create(ctx, n=2)
    redis_client.delete(keys.record(gone))
    delete(ctx, deleted)
    report = run_job(worker_settings(target), redis_server.url)
    assert state(redis_client, deleted)["state"] == "deleted"
    assert report.outcomes["gone"] == 1 and report.outcomes["deleted"] == 1
    assert target.objects() == {"pods": [], "services": [], "ingresses": []}
    if target.sim:
        assert target.stats()["requests"].get("create", {}) == {}  # not one object was made
    assert_group_clean(redis_client)
