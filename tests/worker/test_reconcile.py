"""The reconciler and dead-job recovery, end to end (real Redis, the API over HTTP)."""

from __future__ import annotations

import time
from typing import Any

import redis

from functions.worker import builders
from functions.worker.handlers import GAVE_UP
from functions.worker.podstatus import POD_VANISHED
from functions.worker.reconcile import LOST
from functions.worker.stream import Stream
from shared import keys
from shared.context import Context
from shared.records import Record
from shared.settings import LimitSettings, SiteSettings
from tests.worker.support import (
    Target,
    create,
    delete,
    make_job,
    run_job,
    state,
    template_settings,
    wait_for,
    worker_settings,
)
from tests.worker.test_lifecycle import assert_group_clean


def backdated(ctx: Context, seconds: float) -> Context:
    """The same API, with a clock `seconds` in the past (to make containers already old)."""
    return Context(ctx.api, ctx.limits, ctx.templates, ctx.scripts, lambda: time.time() - seconds)


def make_objects(target: Target, container_id: str, template: str = "nginx") -> None:
    """Create a container's pod, service and ingress directly, as a lost worker might have."""
    record = Record.from_hash(
        {"id": container_id, "template": template, "expires_at": str(time.time() + 600)}
    )
    settings = worker_settings(target)
    chosen = template_settings().by_name()[template]
    core, net = target.core, target.networking
    core.create_namespaced_pod(
        target.namespace, builders.build_pod(record, chosen, settings, now=time.time())
    )
    core.create_namespaced_service(
        target.namespace, builders.build_service(record, chosen, settings)
    )
    net.create_namespaced_ingress(
        target.namespace, builders.build_ingress(record, settings, SiteSettings())
    )


def test_expired_containers_are_deleted(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    stale = create(backdated(ctx, 3700), n=3)  # expired before any job saw them
    fresh = create(ctx, n=3)  # an hour to live
    run_job(worker_settings(target), redis_server.url)
    assert {state(redis_client, i)["state"] for i in stale} == {"deleted"}
    assert {state(redis_client, i)["state"] for i in fresh} == {"running"}
    assert len(target.objects()["pods"]) == 3
    # An hour later by the worker's clock (not the machine's, so no job can be too slow for
    # the test), with no traffic: the scheduled tick sees the expiry and adds an entry a job
    # will run on.
    later = float(state(redis_client, fresh[-1])["expires_at"]) + 1
    tick = Stream(redis_client, "tick").tick(now=later, min_idle=2, reconcile_interval=300)
    assert tick == "expired"
    offset = later - time.time()
    report = run_job(worker_settings(target), redis_server.url, clock=lambda: time.time() + offset)
    assert {state(redis_client, i)["state"] for i in fresh} == {"deleted"}
    assert report.outcomes["deleted"] == 3 and report.outcomes["tick"] == 1
    wait_for(lambda: not any(target.objects().values()), timeout=30, what="an empty namespace")
    assert redis_client.zcard(keys.EXPIRY_INDEX) == 0
    assert_group_clean(redis_client)


def test_orphans_are_deleted_and_live_containers_kept(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    (pending,) = create(ctx)
    (failed,) = create(ctx)
    redis_client.hset(keys.record(failed), "state", "failed")
    for container_id in ("aaaaaaaaaaaa", pending, failed):  # no record / live / failed
        make_objects(target, container_id)
    settings = worker_settings(target)
    job = make_job(settings, redis_server.url)
    report = job.reconciler.run()  # the reconciler alone, before any entry is handled
    kept = builders.object_name(pending)
    only_kept = {"pods": [kept], "services": [kept], "ingresses": [kept]}
    wait_for(lambda: target.objects() == only_kept, timeout=60, what="orphans to go")
    assert len(report.orphans) == 6
    job.run()  # the pending container's create entry finds its objects (409) and goes on
    assert state(redis_client, pending)["state"] == "running"
    wait_for(lambda: target.objects()["pods"] == [kept], timeout=30, what="orphans to go")


def test_a_container_whose_pod_vanished_or_died_fails(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    (vanishing,) = create(ctx)
    (flaky,) = create(ctx, "flaky")  # ready, then crashes 0.5 s later
    run_job(worker_settings(target), redis_server.url)
    assert state(redis_client, vanishing)["state"] == "running"
    assert state(redis_client, flaky)["state"] == "running"
    target.core.delete_namespaced_pod(
        builders.object_name(vanishing), target.namespace, grace_period_seconds=0
    )
    wait_for(lambda: len(target.objects()["pods"]) == 1, timeout=60, what="the pod to go")
    wait_for(
        lambda: (
            target.core.read_namespaced_pod(
                builders.object_name(flaky), target.namespace
            ).status.phase
            == "Failed"
        ),
        timeout=60,
        what="the crash",
    )
    report = make_job(worker_settings(target), redis_server.url).reconciler.run()
    assert sorted(report.vanished) == sorted([vanishing, flaky])
    assert (state(redis_client, vanishing)["state"], state(redis_client, vanishing)["error"]) == (
        "failed",
        POD_VANISHED,
    )
    assert state(redis_client, flaky)["error"] == "It crashed (exit code 1)."
    wait_for(lambda: not any(target.objects().values()), timeout=60, what="the objects to go")


def lose_entries(r: redis.Redis) -> None:
    """Take every entry out of the stream unhandled, the way a failover without AOF might."""
    thief = Stream(r, "lost")
    taken = thief.read_new(1000)
    thief.finish(d.entry_id for d in taken)


def test_lost_entries_are_enqueued_again_then_failed(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    (lost_create,) = create(ctx)
    (lost_delete, lost_twice) = create(ctx, n=2)
    run_job(worker_settings(target), redis_server.url)
    delete(ctx, lost_delete)
    redis_client.hset(keys.record(lost_twice), mapping={"state": "pending", "requeues": "1"})
    (lost_again,) = create(ctx)
    lose_entries(redis_client)
    # Later (lost_after = 5 s): the reconciler finds pending/deleting records with no entry.
    later = make_job(worker_settings(target), redis_server.url, clock=lambda: time.time() + 10)
    later.stream.client.hset(keys.record(lost_again), "requeues", "1")
    report = later.run()
    assert state(redis_client, lost_create)["state"] == "running"
    assert state(redis_client, lost_delete)["state"] == "deleted"
    assert (state(redis_client, lost_again)["state"], state(redis_client, lost_again)["error"]) == (
        "failed",
        LOST,
    )
    assert report.reconciles >= 1
    assert_group_clean(redis_client)


def test_entries_of_a_dead_job_are_taken_over_with_no_new_traffic(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    ids = create(ctx, n=10)
    dead = Stream(redis_client, "dead-job")
    dead.ensure_group()
    dead.read_new(10)  # a job took them and died
    redis_client.set(keys.RECONCILED_AT, time.time())  # and had just reconciled
    settings = worker_settings(target, claim_min_idle=1.0, backoff_max=0.2, lost_after=30)
    early = Stream(redis_client, "tick").tick(now=time.time(), min_idle=1.0, reconcile_interval=300)
    assert early == "idle"  # lag is 0: KEDA would start nothing, and the tick waits too
    time.sleep(1.1)
    assert (
        Stream(redis_client, "tick").tick(now=time.time(), min_idle=1.0, reconcile_interval=300)
        == "stale"
    )
    (group,) = redis_client.xinfo_groups(keys.STREAM)
    assert group["lag"] == 1  # what KEDA's trigger sees: it starts a job
    report = run_job(settings, redis_server.url)
    assert {state(redis_client, i)["state"] for i in ids} == {"running"}
    assert report.outcomes["running"] == 10 and report.outcomes["tick"] == 1
    assert_group_clean(redis_client)
    assert [c["name"] for c in redis_client.xinfo_consumers(keys.STREAM, keys.WORKER_GROUP)] == [
        "dead-job"  # holds nothing now; the reconciler forgets it after an hour idle
    ]


def test_an_entry_that_keeps_failing_is_dead_lettered_after_n_deliveries(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    ids = create(ctx, n=3)
    target.configure(
        error_rate=1.0, error_codes=[500, 503], fault_verbs=["create"], fault_resources=["pods"]
    )
    settings = worker_settings(target, max_deliveries=3)
    report = run_job(settings, redis_server.url)
    assert report.dead_lettered == 3 and report.retried == 6  # deliveries 1, 2 retried; 3 gave up
    for container_id in ids:
        record = state(redis_client, container_id)
        assert (record["state"], record["error"]) == ("failed", GAVE_UP)
    dead: list[tuple[str, dict[str, str]]] = redis_client.xrange(keys.DEAD_LETTER_STREAM)  # type: ignore[assignment]
    assert sorted(f["id"] for _, f in dead) == sorted(ids)
    assert {f["deliveries"] for _, f in dead} == {"3"}
    assert all(
        "the Kubernetes API failed (500" in f["reason"] or "(503" in f["reason"] for _, f in dead
    )
    # One try per delivery: the entry is the one place that retries.
    assert target.stats()["requests"]["create"]["pods"] == 3 * 3
    assert_group_clean(redis_client)


def test_a_pod_whose_deadline_ended_with_its_lifetime_is_an_expiry_not_a_failure(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    left = 1.5 if target.sim else 45.0  # a cluster pulls the image first
    (container_id,) = create(backdated(ctx, 3600 - left))  # `left` s of its lifetime left
    run_job(worker_settings(target), redis_server.url)
    assert state(redis_client, container_id)["state"] == "running"
    expires_at = float(state(redis_client, container_id)["expires_at"])
    name = builders.object_name(container_id)
    wait_for(
        lambda: (
            target.core.read_namespaced_pod(name, target.namespace).status.reason
            == "DeadlineExceeded"
        ),
        timeout=left + 60,
        what="the pod's activeDeadlineSeconds",
    )
    # The race: this reconcile reaped a moment before the expiry, and listed the pods after
    # the cluster ended the pod. The reaper, not the vanished check, must have it.
    late = make_job(worker_settings(target), redis_server.url, clock=lambda: expires_at - 0.01)
    report = late.reconciler.run()
    assert report.vanished == [] and report.reaped == []
    assert state(redis_client, container_id)["state"] == "running"
    run_job(worker_settings(target), redis_server.url)
    assert state(redis_client, container_id)["state"] == "deleted"
    assert state(redis_client, container_id)["error"] == ""


def test_a_pod_already_being_deleted_is_not_an_orphan(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    target.configure(deletion_delay=5)
    make_objects(target, "bbbbbbbbbbbb")  # no record
    name = builders.object_name("bbbbbbbbbbbb")
    # Only a pod bound to a node has something to stop: an unscheduled one is deleted at once,
    # on a cluster as in the simulator. Wait for the binding, then delete gracefully.
    wait_for(
        lambda: target.core.read_namespaced_pod(name, target.namespace).spec.node_name,
        timeout=10,
        what="the pod to be bound to a node",
    )
    target.core.delete_namespaced_pod(name, target.namespace)  # graceful: it lingers, terminating
    assert target.core.read_namespaced_pod(name, target.namespace).metadata.deletion_timestamp
    report = make_job(worker_settings(target), redis_server.url).reconciler.run()
    assert sorted(report.orphans) == [f"ingress/{name}", f"service/{name}"]


def test_slots_freed_by_the_worker_and_the_reaper_go_to_the_next_in_line(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    one_slot = Context(
        ctx.api, LimitSettings(capacity=1, live_per_owner=10), ctx.templates, ctx.scripts
    )
    (first,) = create(one_slot)
    (second,) = create(one_slot)
    assert (state(redis_client, second)["phase"], redis_client.zcard(keys.EXPIRY_INDEX)) == (
        "waiting",
        1,
    )
    run_job(worker_settings(target), redis_server.url)
    assert state(redis_client, first)["state"] == "running"
    assert state(redis_client, second)["phase"] == "waiting"  # nothing frees its slot yet

    # The owner deletes the first: the job removes its pod, and the move that says so gives
    # the slot to the second, whose create entry the same job then handles.
    delete(one_slot, first)
    run_job(worker_settings(target), redis_server.url)
    assert state(redis_client, first)["state"] == "deleted"
    assert state(redis_client, second)["state"] == "running"

    # Its lifetime ends: the reaper expires it, the job deletes it, the third gets the slot.
    (third,) = create(one_slot)
    redis_client.zadd(keys.EXPIRY_INDEX, {second: time.time() - 1})
    report = run_job(worker_settings(target), redis_server.url)
    assert (report.outcomes["deleted"], report.outcomes["running"]) == (1, 1)
    assert state(redis_client, second)["state"] == "deleted"
    assert state(redis_client, third)["state"] == "running"
    assert redis_client.zcard(keys.LINE_DEADLINES) == 0
    assert_group_clean(redis_client)
