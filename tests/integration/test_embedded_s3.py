"""The one-machine stack's own S3 server (sluice/seaweed.py) has room for a bucket per
function: SeaweedFS gives each bucket a volume of its own and allows free disk / volume
size of them, so with its default volume size of 1 GiB a few dozen buckets filled it and
every later write failed (a schemathesis run found it)."""

from __future__ import annotations

import json
import shutil
import urllib.request

from core.objects import ObjectStore
from sluice.seaweed import VOLUME_MB
from tests.fixtures.seaweed import s3_settings_for, start_seaweed

MASTER_OFFSET = 3  # the master's HTTP port, from the S3 port (sluice/seaweed.py)


def test_the_embedded_object_store_has_room_for_hundreds_of_buckets(tmp_path):
    server = start_seaweed(tmp_path / "seaweed")
    try:
        url = f"http://127.0.0.1:{server.s3_port + MASTER_OFFSET}/dir/status"
        with urllib.request.urlopen(url, timeout=10) as answer:
            volumes = json.load(answer)["Topology"]["Max"]
        free = shutil.disk_usage(tmp_path).free
        assert volumes >= 0.9 * free / (VOLUME_MB * 1024**2)
        assert volumes >= 10 * free // 1024**3, "ten times what weed's default allows"
        store = ObjectStore(s3_settings_for(server))
        for index in range(30):
            store.ensure_bucket(f"room-{index}")
            store.put_bytes(f"room-{index}", "probe", b"x", "text/plain")
        assert [key for key, _, _ in store.list_objects("room-29")] == ["probe"]
    finally:
        server.stop()
