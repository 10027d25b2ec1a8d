"""Sprout's library: everything the functions share.

Layers (a module imports only from the ones above it):

    settings, errors, models            configuration, the error family, the API's shapes
    identity, templates                 owner secrets, address hashing, the template allow-list
    redis_client, scripts, keys         Redis access: connections, Lua scripts, key names
    records, lifecycle                  container records; their moves and every script writing them
    limits, stream, passes              quotas, the event stream, CAPTCHA passes
    containers                          the containers use cases (create, list, get, delete)
    http, context                       the HTTP seam (parse, route, render); per-process wiring
"""
