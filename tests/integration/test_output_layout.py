"""Where outputs go: OSCAR's flat layout (`<path>/<file name>`, as its FaaS Supervisor
writes them: faassupervisor/storage/providers/__init__.py `get_file_key`, lines 25-34 at
grycap/faas-supervisor 97b91f2) for services of the OSCAR face and `layout: flat`, each job's
folder for native functions; chains, answers, manifests and re-runs work with both."""

import base64
import secrets

import pytest

from tests.fixtures.signals import until
from tests.fixtures.stack import unconfined


@pytest.fixture
def settings(settings):
    """The retried function below marks its first attempt in a file of the test's."""
    return unconfined(settings)


@pytest.fixture
def bucket() -> str:
    return f"layout-{secrets.token_hex(4)}"


def stored(objects, bucket: str) -> dict[str, bytes]:
    return {key: objects.get_bytes(bucket, key) for key, _, _ in objects.list_objects(bucket)
            if not key.endswith("/")}


async def finished(api, job: dict) -> dict:
    done = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=30")).json()
    assert done["status"] == "succeeded", done
    return done


async def test_an_oscar_service_writes_its_outputs_straight_under_its_path(api, bucket, objects):
    await api.request("POST", "/system/services", json={
        "name": "echo", "script": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result.txt"',
        "output": [{"path": f"{bucket}/output"}]})
    job = await finished(api, await (await api.request("POST", "/job/echo", data=b"one")).json())
    assert stored(objects, bucket) == {"output/result.txt": b"one"}
    assert [o["key"] for o in job["outputs"]] == ["output/result.txt"]


async def test_a_later_job_s_file_of_the_same_name_wins_and_the_earlier_record_says_so(
        api, bucket, objects):
    await api.request("POST", "/system/services", json={
        "name": "echo", "script": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result.txt"',
        "output": [{"path": f"{bucket}/output"}]})
    first = await finished(api, await (await api.request("POST", "/job/echo", data=b"1")).json())
    second = await finished(api, await (await api.request("POST", "/job/echo", data=b"2")).json())
    assert stored(objects, bucket) == {"output/result.txt": b"2"}
    later = await api.request("GET", f"/v1/jobs/{second['id']}/outputs/result.txt")
    assert (later.status, await later.read()) == (200, b"2")
    earlier = await api.request("GET", f"/v1/jobs/{first['id']}/outputs/result.txt")
    assert earlier.status == 409 and "later job" in (await earlier.json())["detail"]
    manifest = await (await api.request("GET", f"/v1/jobs/{second['id']}/outputs")).json()
    assert [o["key"] for o in manifest["outputs"]] == ["output/result.txt"]
    assert (await api.request("DELETE", f"/v1/jobs/{first['id']}")).status == 204
    assert stored(objects, bucket) == {"output/result.txt": b"2"}, "the later file stays"
    assert (await api.request("DELETE", f"/v1/jobs/{second['id']}")).status == 204
    assert stored(objects, bucket) == {}


async def test_the_synchronous_answer_is_the_job_s_own_file(api, bucket):
    await api.request("POST", "/system/services", json={
        "name": "upper", "script": 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/o.txt"',
        "output": [{"path": f"{bucket}/out"}]})
    for text in (b"first", b"second"):
        answer = await api.request("POST", "/run/upper", data=base64.b64encode(text))
        assert base64.b64decode(await answer.read()) == text.upper()


async def test_native_functions_keep_each_job_s_folder_unless_they_ask_for_flat(
        api, bucket, objects):
    script = 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/r.txt"'
    await api.deploy("nested", script=script, input=[],
                     output={"bucket": bucket, "prefix": "nested"})
    await api.deploy("flat", script=script, input=[],
                     output={"bucket": bucket, "prefix": "flat", "layout": "flat"})
    for name in ("nested", "flat"):
        response = await api.request("POST", f"/v1/functions/{name}/invocations", data=b"x",
                                     headers={"Prefer": "respond-async"})
        job = await finished(api, await response.json())
        if name == "nested":
            nested = job["id"]
    assert stored(objects, bucket) == {f"nested/{nested}/r.txt": b"x", "flat/r.txt": b"x"}
    shown = await (await api.request("GET", "/v1/functions/flat")).json()
    assert shown["output"] == {"bucket": bucket, "prefix": "flat", "layout": "flat"}


async def test_flat_outputs_chain_to_the_function_that_watches_their_folder(
        api, listener, bucket, objects):
    await api.request("POST", "/system/services", json={
        "name": "first", "script": 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/mid.txt"',
        "output": [{"path": f"{bucket}/mid"}]})
    await api.request("POST", "/system/services", json={
        "name": "second", "script": 'rev < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/end.txt"',
        "input": [{"path": f"{bucket}/mid"}], "output": [{"path": f"{bucket}/end"}]})
    await finished(api, await (await api.request("POST", "/job/first", data=b"chain")).json())
    chained = await until(lambda: _succeeded(api, "second"), what="the chained job")
    assert chained["trigger"] == "chain" and chained["source"]["key"] == "mid/mid.txt"
    assert stored(objects, bucket) == {"mid/mid.txt": b"CHAIN", "end/end.txt": b"NIAHC"}


async def _succeeded(api, function: str) -> dict | None:
    jobs = (await (await api.request("GET", f"/v1/jobs?function={function}")).json())["jobs"]
    return jobs[0] if jobs and jobs[0]["status"] == "succeeded" else None


@pytest.mark.parametrize("layout", ["flat", "per-job"])
async def test_a_job_run_again_overwrites_its_files_instead_of_adding_more(
        api, bucket, objects, tmp_path, layout):
    """The first attempt writes its file and fails; the retry writes it again."""
    await api.deploy("twice", input=[], retries=1, retry_backoff="0.2s",
                     output={"bucket": bucket, "prefix": "out", "layout": layout},
                     script='echo "attempt $JOB_ID" > "$TMP_OUTPUT_DIR/r.txt"; '
                            f'test -e {tmp_path}/ran && exit 0; touch {tmp_path}/ran; exit 1')
    response = await api.request("POST", "/v1/functions/twice/invocations", data=b"",
                                 headers={"Prefer": "respond-async"})
    job = await finished(api, await response.json())
    assert job["attempts"] == 2
    [key] = stored(objects, bucket)
    assert key == ("out/r.txt" if layout == "flat" else f"out/{job['id']}/r.txt")
