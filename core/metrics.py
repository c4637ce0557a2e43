"""Metric definitions shared by every process. In the one-machine stack the processes share
a prometheus-client multiprocess directory, so the gateway's /metrics shows the workers' too."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "sluice_http_requests_total", "HTTP requests by route, method and status",
    ["route", "method", "status"])
HTTP_LATENCY = Histogram(
    "sluice_http_request_duration_seconds", "HTTP request handling time by route",
    ["route"], buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
INVOCATIONS = Counter(
    "sluice_invocations_total", "Invocations accepted by function and mode", ["function", "mode"])
JOBS_FINISHED = Counter(
    "sluice_jobs_finished_total", "Jobs that reached a terminal state", ["function", "status"])
JOBS_EXPIRED = Counter(
    "sluice_jobs_expired_total", "Ended jobs deleted, with their logs and outputs, past their "
    "retention")
JOBS_DEFERRED = Counter(
    "sluice_jobs_deferred_total", "Times a job found its function at its concurrency limit "
    "and stayed queued", ["function"])
JOB_DURATION = Histogram(
    "sluice_job_duration_seconds", "Job run time from start to recorded outcome",
    ["function", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800))
QUEUE_WAIT = Histogram(
    "sluice_job_queue_wait_seconds", "Time from acceptance to the start of the last attempt",
    ["function"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30, 300))
OPEN_WAITERS = Gauge(
    "sluice_open_waiters", "Requests waiting for a job to finish", multiprocess_mode="livesum")
MESSAGES_DROPPED = Counter(
    "sluice_messages_dropped_total", "Job messages dropped as duplicates or for finished jobs",
    ["why"])
EVENT_MESSAGES_DROPPED = Counter(
    "sluice_event_messages_dropped_total",
    "Event messages dropped because they can never be read, by consumer and why",
    ["consumer", "why"])
EVENTS = Counter(
    "sluice_storage_events_total", "Object events by source and what became of them",
    ["source", "outcome"])
JOBS_REPUBLISHED = Counter(
    "sluice_jobs_republished_total", "Jobs the sweeper published again", ["status"])
CALLBACKS = Counter(
    "sluice_callbacks_total", "Callback POSTs by what became of them: delivered, retried "
    "(refused, to be tried again), failed (given up)", ["outcome"])
SCHEDULE_FIRES = Counter(
    "sluice_schedule_fires_total", "Schedule ticks by function and what became of them: "
    "fired (a job), duplicate (another listener had fired the tick)", ["function", "outcome"])
