"""The invocation bus: the Dramatiq broker, job publishing by actor name, completion events."""

JOBS_QUEUE = "sluice-jobs"
RUN_JOB_ACTOR = "run_job"
