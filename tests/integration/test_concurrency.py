"""A function's `concurrency` holds across workers (issue 11, part 6): two worker processes,
each with several threads, never run more of its jobs at once than it allows."""

import subprocess
import sys

from tests.fixtures.stack import settings_env, unconfined


def spans(directory, prefix: str) -> list[tuple[int, int]]:
    """When each run of the function started and ended (ns), as it wrote them."""
    return [tuple(map(int, path.read_text().split())) for path in directory.iterdir()
            if path.name.startswith(prefix)]


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


async def test_concurrency_holds_across_worker_processes(gateway_only, settings):
    api = gateway_only
    runs = settings.data_dir / "runs"
    runs.mkdir(parents=True)
    env = settings_env(unconfined(settings))
    workers = [subprocess.Popen([sys.executable, "-m", "sluice.cli", "worker"], env=env,
                                start_new_session=True) for _ in range(2)]
    try:
        script = (f'start=$(date +%s%N); sleep 0.3; echo "$start $(date +%s%N)" '
                  f'> {runs}/single-$JOB_ID')
        await api.deploy("single", mode="async", concurrency=1, script=script)
        await api.deploy("pair", mode="async", concurrency=2, script=script.replace(
            "single-", "pair-"))
        jobs = []
        for name in ["single"] * 6 + ["pair"] * 6:
            response = await api.request("POST", f"/v1/functions/{name}/invocations")
            jobs.append((await response.json())["id"])
        for job_id in jobs:
            done = await (await api.request("GET", f"/v1/jobs/{job_id}?wait=60")).json()
            assert done["status"] == "succeeded", done
        single, pair = spans(runs, "single-"), spans(runs, "pair-")
        assert len(single) == len(pair) == 6
        assert most_at_once(single) == 1
        assert most_at_once(pair) == 2
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
