"""Per-invocation overhead of the container executor against a bare `podman run --rm` of
the same image and command, in the same run, on a Podman API socket of its own.

Usage: .venv/bin/python -m bench.containers [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import docker

from tests.fixtures.podman import CONTAINERS_CONF, busybox_rootfs
from workers.executors.base import Invocation
from workers.executors.container import ContainerExecutor


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="sluice-bench-containers-"))
    (base / "containers.conf").write_text(CONTAINERS_CONF)
    env = dict(os.environ, CONTAINERS_CONF=str(base / "containers.conf"))
    image = f"localhost/sluice-bench-busybox:{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "import", "-", image],
                   input=busybox_rootfs(shutil.which("busybox")), env=env, check=True,
                   capture_output=True)
    sock = base / "podman.sock"
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        executor = ContainerExecutor(f"unix://{sock}", "never")
        work = base / "work"
        (work / "input").mkdir(parents=True)
        (work / "output").mkdir()
        sluice = []
        for _ in range(args.runs):
            invocation = Invocation(argv=("true",), environment={}, workdir=work,
                                    stdout=work / "stdout", stderr=work / "stderr", timeout=60,
                                    image=image)
            started = time.perf_counter()
            result = executor.start(invocation).wait()
            sluice.append(time.perf_counter() - started)
            assert result.exit_code == 0, result
    finally:
        subprocess.run(["podman", "rmi", "-f", image], env=env, capture_output=True)
        service.terminate()
        service.wait(30)
        shutil.rmtree(base, ignore_errors=True)
    ratio = median_ms(sluice) / median_ms(bare)
    print(f"bare `podman run --rm` p50 {median_ms(bare):7.1f} ms")
    print(f"container executor      p50 {median_ms(sluice):7.1f} ms  ({ratio:.2f}x bare; "
          f"create, start, wait, logs, remove over the API)")


if __name__ == "__main__":
    main()
