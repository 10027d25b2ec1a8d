"""The worker: a KEDA ScaledJob that turns `container_events` entries into hardened pods.

Each job drains the stream and exits, a thread per entry it holds (see `job`). Only the
worker talks to Kubernetes, and only through `kube.Kube` (RBAC: `kube.REQUIRED_RBAC`).

Modules, in layers (each imports only from the layers above it):

    settings, errors, ratelimit, podstatus, builders   pure: no I/O
    kube (the API, rate-capped, errors translated), stream (the consumer group, Lua),
    metrics (counts summed in Redis), report (a job's tally, for its log line and metrics)
    tracker (one pod watch per job), handlers (what an entry does), reconcile (the gap-closer)
    job (a thread per entry: its whole life), __main__ (the command line)

How entries left by a dead job are picked up with no new traffic
-----------------------------------------------------------------
KEDA's `redis-streams` trigger counts lag: entries not yet delivered to the group. Entries
a job took and then died holding are delivered, so lag is 0 and KEDA starts nothing. Three
pieces close that gap:

1. Heartbeats. A live job refreshes the idle time of every entry it holds every
   `claim_min_idle / 3` seconds (`XCLAIM ... JUSTID` on its own entries only), however long
   its pods take. So "idle for longer than `claim_min_idle`" means "its job is dead", and
   that threshold can be short (default 30 s) while pods get 180 s to start.
2. Take-over. Every job starts with `XAUTOCLAIM` (min-idle `claim_min_idle`) and repeats it
   while it runs, before reading new entries. A take-over counts as a delivery, as does a
   job's own retry of an entry that failed for now (`XCLAIM` after a backoff); after
   `max_deliveries` the entry goes to the dead-letter stream and its container to `failed`.
3. The tick. A CronJob runs `sprout-worker tick` every minute. It needs Redis only (no
   cluster credentials) and adds one `reconcile` entry to the stream when lag is 0 and
   something waits that lag cannot show: an entry idle past `claim_min_idle` (a dead job's),
   a container past its expiry, a place in the waiting line whose page stopped checking on
   it, or no reconcile for `reconcile_interval`. That entry is lag
   1, so KEDA starts a job, which reconciles and takes the stale entries over. The tick
   never adds a second entry while one is undelivered (lag > 0), and it creates the consumer
   group if it is missing (so KEDA can read lag from the first deploy on).

So an entry held by a job that is SIGKILLed is handled again within `claim_min_idle` plus
the tick's period plus a job start, with no new traffic. The local stack's scaler must run
the tick on a schedule too (any period; tests use well under a second).

Logs and metrics
----------------
Logs are JSON lines on stderr (`shared.logs`). While a job handles an entry it logs with the
entry's `request_id`, the id of the API request that wrote it (the create and delete scripts
put it in the entry; expire entries carry the create's), so one id finds a container's story
in the `containers` function's log and the worker's.

Metrics: a job is short-lived and many run at once, so nothing can scrape one. The two usual
answers fit badly: a Pushgateway replaces a group's series on every push, so concurrent jobs
sharing one group overwrite each other's counters, and a group per job is never deleted and
multiplies series; a textfile needs a node that outlives the job. So each job adds its counts
to one Redis hash (`HINCRBYFLOAT`, one pipelined round trip at most once a second and at
exit): Redis, which every job already reaches, sums all jobs exactly and keeps the totals
through restarts (AOF); a job SIGKILLed, or ended by Redis going away, loses at most its
last second of counts. `metrics.Collector` hands them to prometheus-client, with the
stream's lag, pending and dead-letter gauges read at that moment; `sprout-worker metrics`
prints them (or `--out FILE` writes them atomically for a node-exporter textfile collector), and
`sprout-worker metrics --listen HOST:PORT` serves them on /metrics, read at each scrape (the
`sprout-worker-metrics` Deployment in deploy/).

Deploy notes: the ScaledJob's pods run `sprout-worker`, with `activeDeadlineSeconds` above
`SPROUT_WORKER_MAX_RUN_TIME` + `SPROUT_WORKER_READY_DEADLINE` +
`SPROUT_WORKER_REDIS_OUTAGE_GRACE` (a job waits out a Redis restart); the tick CronJob
(`concurrencyPolicy: Forbid`) runs `sprout-worker tick` with the same `SPROUT_WORKER_*`
values and `SPROUT_REDIS_URL`.
"""
