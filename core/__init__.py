"""Sluice's domain: functions, jobs, settings, errors, the job store and the object store."""
