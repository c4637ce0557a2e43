"""Abaco's actors, spoken by Sluice: the actor an Abaco client registers, translated to and
from a function spec (`actors`); a job shown as Abaco's execution (`executions`); and the
context variables an actor's container reads (`context`), for the functions whose spec
names the Abaco contract (`contract`). Followed: TACC/abaco, actors/controllers.py,
models.py, worker.py, docker_utils.py and events.py."""
