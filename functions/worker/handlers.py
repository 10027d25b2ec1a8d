"""What one stream entry does to the cluster and to its container's record.

Each handler runs in its entry's thread (see `job`) and is idempotent: it may run again for
the same entry (a redelivery after a dead job or a temporary error) and for the same container
from several entries at once, in several jobs, without leaving a second pod or a pod without
a live record. The record's status, moved atomically by the named moves of `shared.lifecycle`
(each checks the status it may start from), is what orders a create against a delete:

    create: pending --(phase creating)--> create pod, service, ingress --(phase starting)-->
            wait for the pod to be ready, fail or go (the tracker) --> running | failed
    delete / expire: deleting --> delete ingress, service, pod --> deleted

If the move to `starting` is refused, a delete arrived while the objects were being made:
the create removes them itself, so whichever of the two ran last, no pod is left. A create
whose record is no longer pending (deleted, failed, expired) does nothing.

A handler raises when the entry should be delivered again: `TemporaryError` from the API,
or a Redis error.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from functions.worker import builders
from functions.worker.errors import KubeError, PermanentError
from functions.worker.kube import Kube
from functions.worker.podstatus import timed_out
from functions.worker.settings import WorkerSettings
from functions.worker.stream import Delivery
from functions.worker.tracker import PodTracker
from shared import lifecycle, records
from shared.lifecycle import Refused
from shared.records import Record
from shared.redis_client import Scripts
from shared.settings import SiteSettings, Template

log = logging.getLogger("sprout.worker")

TEMPLATE_GONE = "Its template is no longer offered."
DELETE_FAILED = "It could not be deleted cleanly; Sprout will remove what is left."
GAVE_UP = "Sprout could not set it up on the cluster (the cluster kept failing)."


@dataclass(frozen=True)
class Done:
    """The entry is handled: acknowledge it. `outcome` is for the report, logs and metrics;
    `launch_seconds` (create to running) when the container just started."""

    outcome: str
    launch_seconds: float | None = None


class Handlers:
    def __init__(
        self,
        *,
        kube: Kube,
        scripts: Scripts,
        tracker: PodTracker,
        settings: WorkerSettings,
        site: SiteSettings,
        templates: Mapping[str, Template],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.scripts = scripts
        self.tracker = tracker
        self.settings = settings
        self.site = site
        self.templates = templates
        self.clock = clock

    # -- entry points (each called from its entry's thread) -----------------------------------

    def handle(self, delivery: Delivery) -> Done:
        if delivery.type == "create":
            return self.create(delivery.container_id)
        if delivery.type in ("delete", "expire"):
            return self.delete(delivery.container_id)
        return Done("ignored")

    def give_up(self, delivery: Delivery, reason: str) -> None:
        """The entry is going to the dead-letter stream: its container fails, with a reason,
        and its objects go (if the cluster answers now; else the reconciler removes them)."""
        if not builders.valid_container_id(delivery.container_id):
            return
        message = DELETE_FAILED if delivery.type in ("delete", "expire") else GAVE_UP
        try:
            lifecycle.give_up(self.scripts, delivery.container_id, message, now=self.clock())
        except Refused:
            pass
        else:
            with contextlib.suppress(KubeError):
                self.kube.delete_all(builders.object_name(delivery.container_id))
        log.warning(
            "dead-letter entry=%s type=%s id=%s deliveries=%d: %s",
            delivery.entry_id,
            delivery.type,
            delivery.container_id,
            delivery.deliveries,
            reason,
        )

    # -- create -------------------------------------------------------------------------------

    def create(self, container_id: str) -> Done:
        """A create's whole life: read the record, build and create the objects, wait for the
        pod to run (or fail, or the deadline), write the outcome."""
        now = self.clock()
        record = records.load(self.scripts, container_id)
        if record is None:
            return Done("gone")
        if not lifecycle.allows(record, "creating"):
            return Done(f"skipped-{record.state}")
        if record.expires_at <= now:
            return Done("expired")  # the reaper turns it into an `expire` entry
        template = self.templates.get(record.template)
        if template is None:
            return self._fail_create(container_id, TEMPLATE_GONE)
        try:
            record = lifecycle.mark_creating(self.scripts, container_id, now=self.clock())
        except Refused:
            return Done("cancelled")
        try:
            pod = self._make_objects(record, template, now)
        except PermanentError as exc:
            return self._fail_create(container_id, exc.reason)
        try:
            lifecycle.mark_starting(self.scripts, container_id, now=self.clock())
        except Refused:
            # A delete (or the reaper) won the race while we made the objects: we remove them.
            self.kube.delete_all(builders.object_name(container_id))
            return Done("cancelled")
        self.tracker.seed(container_id, pod)
        state = self.tracker.wait(container_id, self.settings.ready_deadline)
        if state is None or state.kind != "ready":
            reason = state.reason if state else timed_out(self.settings.ready_deadline)
            return self._fail_create(container_id, reason)
        started_at = self.clock()
        url = self.site.container_url(container_id)
        try:
            record = lifecycle.mark_running(self.scripts, container_id, now=started_at, url=url)
        except Refused:
            return Done("cancelled")  # deleted or expired meanwhile: that entry cleans up
        return Done("running", launch_seconds=started_at - record.created_at)

    def _make_objects(self, record: Record, template: Template, now: float) -> dict[str, object]:
        pod = self.kube.create_pod(builders.build_pod(record, template, self.settings, now=now))
        self.kube.create_service(builders.build_service(record, template, self.settings))
        self.kube.create_ingress(builders.build_ingress(record, self.settings, self.site))
        return pod

    def _fail_create(self, container_id: str, reason: str) -> Done:
        try:
            lifecycle.fail(self.scripts, container_id, reason, now=self.clock())
        except Refused:
            return Done("cancelled")
        try:
            self.kube.delete_all(builders.object_name(container_id))
        except KubeError as exc:  # the reconciler removes objects of failed containers
            log.info("cleanup of failed container %s deferred: %s", container_id, exc)
        return Done("failed")

    # -- delete -------------------------------------------------------------------------------

    def delete(self, container_id: str) -> Done:
        if not builders.valid_container_id(container_id):
            return Done("ignored")
        record = records.load(self.scripts, container_id)
        if record is not None and record.state not in ("deleting", "failed"):
            # live: this entry is stale (every delete entry follows a move to deleting);
            # deleted: the objects were removed before the record said so.
            return Done(f"skipped-{record.state}")
        try:
            self.kube.delete_all(builders.object_name(container_id))
        except PermanentError as exc:
            log.warning("delete of %s refused: %s", container_id, exc)
            with contextlib.suppress(Refused):
                lifecycle.delete_failed(self.scripts, container_id, DELETE_FAILED, now=self.clock())
            return Done("failed")
        if record is not None and record.state == "deleting":
            with contextlib.suppress(Refused):
                lifecycle.mark_deleted(self.scripts, container_id, now=self.clock())
        return Done("deleted")
