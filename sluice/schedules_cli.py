"""`sluice schedule`: the scheduled functions, their schedules and next fire times."""

from __future__ import annotations

import json

from sluice.client import Client
from sluice.display import local_time, table


def schedule(args, client: Client) -> None:
    listing = [f for f in client.json("GET", "/v1/functions")["functions"] if f.get("schedule")]
    if args.json:
        print(json.dumps([{key: f[key] for key in ("name", "schedule", "schedule_enabled",
                                                   "next_fire")} for f in listing], indent=2))
        return
    table([(f["name"], f["schedule"], local_time(f["next_fire"]) if f["schedule_enabled"]
            else "(disabled)") for f in listing], ("NAME", "SCHEDULE", "NEXT FIRE"))
