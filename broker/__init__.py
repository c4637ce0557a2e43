"""The invocation bus: the Dramatiq broker, job publishing by actor name, completion events."""

RUN_JOB_ACTOR = "run_job"
