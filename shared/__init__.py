"""Sprout's library: everything the functions share.

Layers (a module imports only from the ones above it, or its own row; type-only imports aside):

    settings, errors, models, keys      configuration, the error family, the API's shapes, key names
    identity                            owner secrets, address and network hashing
    logs, metrics                       JSON log lines with the request id; Prometheus counts
                                        (metrics names the CAPTCHA's refusals: captcha.failures)
    records, line, limits, passes       records, the waiting line, quotas and their headers, passes
    lifecycle                           the record's moves and every Lua script that writes a record
    scripts, redis_client               Redis access: the connection pools, the registered scripts
    context                             per-process wiring: settings, Redis, the clock
    captcha                             the slider puzzle, its proof of work, verification
    containers                          the containers' use cases (create, list, get, delete)
    http, openapi                       the HTTP seam (parse, route, render); the OpenAPI document

The design, from the visitor's click to the pod, is in the repository's docs/.
"""
