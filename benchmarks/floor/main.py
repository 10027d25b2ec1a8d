"""The floor of POST /containers: what any create costs on this stack, and nothing more.

It parses the body and runs Sprout's create script once, the one Redis round trip every
create makes, and answers with the script's record. No owner cookie, rate-limit headers,
log line, metrics or error shape: `benchmarks.api` measures it beside the real endpoint to
show how much of the distance to the bare baseline the round trip alone accounts for.
"""

import json
import secrets

import flask

from shared.containers import new_container_id, run_create_script
from shared.context import LazyContext
from shared.identity import client_hash
from shared.models import CreateContainerRequest

context = LazyContext()


def floor(request: flask.Request) -> flask.Response:
    ctx = context()
    body = CreateContainerRequest.model_validate_json(request.get_data())
    answer = run_create_script(
        ctx,
        owner=secrets.token_hex(16),  # a fresh owner each time, as the benchmark's visitors are
        client=client_hash(ctx.api.secret_key, request.headers.get("X-Real-Ip", "")),
        network=client_hash(ctx.api.secret_key, request.headers.get("X-Real-Ip", "")),
        template=body.template,
        captcha_token=body.captcha_token,
        request_id=secrets.token_hex(8),
        container_id=new_container_id(),
        now=ctx.clock(),
    )
    status = 202 if answer["ok"] else 409  # a refusal counts among wrk's errors
    return flask.Response(json.dumps(answer.get("record")), status, mimetype="application/json")
