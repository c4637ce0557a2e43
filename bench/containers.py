"""Per-invocation overhead of the container executor against a bare `podman run --rm` of
the same image and command, in the same run, on a Podman API socket of its own. The
executor stages as it does in a worker, against a SeaweedFS of the bench's own.

Usage: .venv/bin/python -m bench.containers [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

try:
    import docker

    from bench.podman import CONTAINERS_CONF, busybox_rootfs, missing
    from core.blobs import Blobs
    from core.functions import Function
    from core.ids import new_id
    from core.jobs import Job, JobStatus, Trigger
    from core.objects import ObjectStore
    from core.settings import S3Settings, Secret
    from core.store import JobStore
    from sluice.ports import free_port_block
    from sluice.seaweed import SeaweedServer
    from workers.executors.base import Attempt
    from workers.executors.container import ContainerExecutor
    from workers.staging import LocalStaging
    from workers.workdir import Workdir
except ModuleNotFoundError as absent:
    sys.exit(f"bench: {absent.name} is missing: run `make install`, then "
             ".venv/bin/python -m bench.containers")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def executor_runs(base: Path, sock: Path, image: str, runs: int) -> list[float]:
    """Attempts of a function running `true` in `image`, each timed from start to outcome."""
    seaweed = SeaweedServer(base / "seaweed", free_port_block(5, also_plus=10000),
                            secrets.token_hex(8), secrets.token_hex(16))
    seaweed.start()
    store = JobStore(f"sqlite:///{base / 'jobs.db'}")
    try:
        seaweed.wait_ready()
        store.migrate()
        objects = ObjectStore(S3Settings(url=seaweed.url,
                                         access_key=Secret(seaweed.access_key),
                                         secret_key=Secret(seaweed.secret_key)))
        blobs = Blobs(store, objects, "bench-system", inline_max=256 * 1024)
        executor = ContainerExecutor(f"unix://{sock}", "never", LocalStaging(objects, blobs))
        fn = Function.from_spec({"name": "bench", "image": image, "command": ["true"]}
                                ).resolved("bench-data")
        samples = []
        for _ in range(runs):
            job = Job(id=new_id(), function=fn.name, revision=1, trigger=Trigger.HTTP,
                      status=JobStatus.RUNNING, created_at=time.time(), attempts=1)
            attempt = Attempt(job=job, function=fn, workdir=Workdir.for_thread(base / "work"))
            started = time.perf_counter()
            outcome = executor.start(attempt).wait()
            samples.append(time.perf_counter() - started)
            assert outcome.exit_code == 0, outcome
        return samples
    finally:
        store.close()
        seaweed.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if missing():
        sys.exit(f"bench: {', '.join(missing())} not installed: apt-get install podman runc "
                 "busybox-static (`make test` installs them when run as root)")
    base = Path(tempfile.mkdtemp(prefix="sluice-bench-containers-"))
    (base / "containers.conf").write_text(CONTAINERS_CONF)
    env = dict(os.environ, CONTAINERS_CONF=str(base / "containers.conf"))
    image = f"localhost/sluice-bench-busybox:{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "import", "-", image],
                   input=busybox_rootfs(shutil.which("busybox")), env=env, check=True,
                   capture_output=True)
    sock = base / "podman.sock"
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"],
                               env=env, cwd=base, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        while not sock.exists():
            time.sleep(0.1)
        docker.DockerClient(base_url=f"unix://{sock}").ping()
        bare = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run(["podman", "run", "--rm", "--network", "none", image, "true"],
                           env=env, check=True, capture_output=True)
            bare.append(time.perf_counter() - started)
        sluice = executor_runs(base, sock, image, args.runs)
    finally:
        subprocess.run(["podman", "rmi", "-f", image], env=env, capture_output=True)
        service.terminate()
        service.wait(30)
        shutil.rmtree(base, ignore_errors=True)
    ratio = median_ms(sluice) / median_ms(bare)
    print(f"bare `podman run --rm` p50 {median_ms(bare):7.1f} ms")
    print(f"container executor      p50 {median_ms(sluice):7.1f} ms  ({ratio:.2f}x bare; "
          "stage in, create, start, wait, logs, remove, stage out over the API)")


if __name__ == "__main__":
    main()
