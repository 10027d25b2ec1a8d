"""The containers use cases: create, list, read and delete, each one Redis round trip."""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from shared import keys, limits, metrics
from shared.context import Context
from shared.errors import CaptchaFailed, InvalidField, NotFound, Unavailable
from shared.models import Container, ContainerList, Policy, TemplateInfo, TemplateList
from shared.passes import token_hash
from shared.records import Record
from shared.settings import LimitSettings

MAX_LISTED = 200

log = logging.getLogger("sprout.containers")


def new_container_id() -> str:
    """12 base32 characters (60 random bits): DNS-safe, never a path word like 'templates'."""
    return base64.b32encode(secrets.token_bytes(8)).decode().lower()[:12]


@dataclass(frozen=True)
class Created:
    container: Container
    policies: list[Policy]


def templates(ctx: Context) -> TemplateList:
    return TemplateList(
        templates=[
            TemplateInfo(
                name=t.name,
                title=t.title,
                description=t.description,
                image=t.image,
                port=t.port,
                cpu=t.cpu,
                memory=t.memory,
            )
            for t in ctx.templates.templates
        ],
        lifetime=ctx.api.container_lifetime,
        cluster={"simulated": ctx.api.cluster_simulated},  # type: ignore[arg-type]
    )


def create(
    ctx: Context,
    *,
    owner: str,
    client: str,
    network: str,
    template: str,
    captcha_token: str,
    request_id: str,
) -> Created:
    if template not in ctx.templates.by_name():
        metrics.create_refused(metrics.REFUSED_TEMPLATE)
        raise InvalidField(
            f"There is no template named {template!r}.",
            details=[
                {
                    "field": "template",
                    "message": "unknown template",
                    "allowed": sorted(ctx.templates.by_name()),
                }
            ],
        )
    container_id = new_container_id()
    answer = run_create_script(
        ctx,
        owner=owner,
        client=client,
        network=network,
        template=template,
        captcha_token=captcha_token,
        request_id=request_id,
        container_id=container_id,
        now=ctx.clock(),
    )
    if not answer["ok"]:
        raise _create_refusal(answer, ctx.limits)
    metrics.container_created(template)
    record = Record.from_hash(answer["record"])
    # The request id (in the log line, from shared.logs) is in the record and the stream
    # entry too: the worker logs with it when it handles the entry.
    log.info(
        "create %s accepted (%s)",
        container_id,
        template,
        extra={"container_id": container_id, "template": template},
    )
    return Created(record.to_api(), limits.policies_of(answer["quotas"], ctx.limits))


def run_create_script(
    ctx: Context,
    *,
    owner: str,
    client: str,
    network: str,
    template: str,
    captcha_token: str,
    request_id: str,
    container_id: str,
    now: float,
) -> dict[str, Any]:
    """The create's one round trip (lifecycle.CREATE): its answer, accepted or not."""
    lim = ctx.limits
    quotas = limits.create_quotas(lim, client=client, network=network, owner=owner)
    line = {
        "length": lim.line_length,
        "timeout": lim.place_timeout,
        "max_wait": lim.max_wait,
        "places": limits.place_quotas(lim, client=client, network=network),
    }
    answer: dict[str, Any] = ctx.scripts.run(
        ctx.scripts.create,
        [
            keys.captcha_pass(token_hash(captcha_token)),
            keys.record(container_id),
            keys.owner_index(owner),
        ],
        [
            repr(now),
            client,
            owner,
            network,
            container_id,
            template,
            ctx.api.container_lifetime,
            max(ctx.api.record_ttl, ctx.api.container_lifetime + 3600),
            lim.capacity,
            request_id,
            "create",
            limits.quotas_json(quotas),
            limits.quotas_json(line),
        ],
    )
    return answer


def _create_refusal(answer: dict[str, object], lim: LimitSettings) -> Exception:
    """The error for a refusal of the create script, counted by reason."""
    code = answer["code"]
    retry_after = int(answer.get("retry_after", 1))  # type: ignore[call-overload]
    reason = {
        "captcha_invalid": metrics.REFUSED_CAPTCHA,
        "rate_limited": str(answer.get("policy")),
        "capacity_full": metrics.REFUSED_CAPACITY,
    }.get(str(code), metrics.REFUSED_ID_TAKEN)
    metrics.create_refused(reason)
    if code == "captcha_invalid":
        return CaptchaFailed(
            "The CAPTCHA pass is missing, used or expired. Solve the puzzle again.",
            code="captcha_invalid",
        )
    if code == "rate_limited":
        return limits.refused(str(answer["policy"]), lim, retry_after)
    if code == "capacity_full":
        return Unavailable(
            "Every slot is taken and the waiting line is full too. Try again in "
            f"{limits.wait_words(retry_after)}.",
            code="capacity_full",
            retry_after=retry_after,
        )
    # id_taken: 60 random bits collided; the client may simply retry.
    return Unavailable("Could not allocate a container id; please retry.", retry_after=1)


def list_for(ctx: Context, owner: str | None) -> ContainerList:
    if owner is None:
        return ContainerList(containers=[])
    # Looking at the list keeps the owner's places in the waiting line (sent again after a
    # broken connection, it only looks again).
    rows = ctx.scripts.run(
        ctx.scripts.list,
        [keys.owner_index(owner)],
        [keys.RECORD_PREFIX, MAX_LISTED, repr(ctx.clock()), ctx.limits.place_timeout],
        idempotent=True,
    )
    return ContainerList(containers=[Record.from_hash(row).to_api() for row in rows])


def get(ctx: Context, owner: str | None, container_id: str) -> Container:
    if owner is None:
        raise NotFound("No container with that id is yours.")
    fields = ctx.scripts.run(
        ctx.scripts.read,
        [keys.record(container_id)],
        [repr(ctx.clock()), owner, ctx.limits.place_timeout],
        idempotent=True,
    )
    if not fields:
        raise NotFound("No container with that id is yours.")
    return Record.from_hash(fields).to_api()


def delete(ctx: Context, owner: str | None, container_id: str, request_id: str) -> Container:
    if owner is None:
        raise NotFound("No container with that id is yours.")
    answer = ctx.scripts.run(
        ctx.scripts.delete,
        [keys.record(container_id)],
        [repr(ctx.clock()), owner, request_id],
    )
    if not answer["ok"]:
        raise NotFound("No container with that id is yours.")
    log.info("delete %s accepted", container_id, extra={"container_id": container_id})
    return Record.from_hash(answer["record"]).to_api()
