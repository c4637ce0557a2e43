"""What an actor's container reads of its execution: Abaco's context variables, for the
functions whose spec has `abaco` (`core.abaco.contract`), set beside Sluice's own; and the
message an actor's `link` gets when one of its executions ends. Line numbers are those of
TACC/abaco at 9e83e1c."""

from __future__ import annotations

import json

from core import messages
from core.abaco.executions import OWNER, status
from core.functions import Function
from core.jobs import Job, Trigger
from core.times import rfc3339

STR, JSON, BINARY = "str", "application/json", "application/octet-stream"
"""`_abaco_Content_Type`, as controllers.py:1726-1745 sets it."""
MSG_MAX = messages.MESSAGE_MAX_BYTES
"""The longest message put in `MSG` (as in `MESSAGE`); every message is at `INPUT_FILE_PATH`
whatever its size, as a binary one (which Abaco keeps out of the environment) is."""
CRON_MESSAGE = "This is your cron execution"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def content_kind(content_type: str | None) -> str:
    """`_abaco_Content_Type` of a message that came with `content_type`: JSON as Flask's
    `is_json` reads it, text and forms as `str`, anything else binary."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return JSON
    if media.startswith("text/") or media in FORMS:
        return STR
    return BINARY


def variables(job: Job, fn: Function, message: bytes) -> dict[str, str]:
    """Abaco's variables for `job`, whose input begins with `message`: those the message
    carries (controllers.py:1794-1813; for cron, 138-143), then those the worker adds
    (worker.py:416-422) and `MSG` (docker_utils.py:541-542). Nothing secret:
    `_abaco_access_token` is empty, as Abaco leaves it for an actor without a token."""
    contract = fn.abaco
    kind, text = (STR, CRON_MESSAGE) if job.trigger is Trigger.CRON \
        else (content_kind(job.content_type), messages.text_of(message))
    env = {"_abaco_execution_id": job.id, "_abaco_Content_Type": kind,
           "_abaco_actor_revision": str(job.revision),
           "_abaco_api_server": contract.api_server if contract else "",
           "_abaco_access_token": "", "_abaco_actor_dbid": fn.name, "_abaco_actor_id": fn.name,
           "_abaco_worker_id": job.owner or "", "_abaco_container_repo": fn.image or "",
           "_abaco_actor_state": "{}", "_abaco_actor_name": (contract and contract.name) or "None",
           "_actor_configs": "{}"}
    if job.trigger is not Trigger.CRON:
        env["_abaco_username"] = "Abaco Event" if job.trigger is Trigger.END else OWNER
    if kind != BINARY and text is not None:
        env["MSG"] = text
    return env


def link_message(job: Job, fn: Function) -> bytes:
    """What an actor's `link` gets when one of its executions ends: Abaco's
    EXECUTION_COMPLETE event (models.py:496-514 and 588-600, with the data of 1618-1623),
    sent to it as JSON (events.py:72-83)."""
    ended = rfc3339(job.finished_at)
    return json.dumps({
        "event_type": "EXECUTION_COMPLETE", "event_time_utc": ended,
        "event_time_display": ended, "actor_id": job.function, "actor_dbid": job.function,
        "_abaco_link": fn.on_end or "", "_abaco_webhook": fn.callback.url if fn.callback else "",
        "execution_id": job.id, "status": status(job), "exit_code": job.exit_code,
    }).encode()
