"""The OSCAR face: service definitions, /run with base64, /job, logs, info, config, tokens,
with the answers OSCAR gives (its sources at grycap/oscar 7ade09e, cited by file and line)."""

import base64
import io
import re
import secrets
import zipfile

import pytest


@pytest.fixture
def bucket() -> str:
    """A bucket of the test's own: outputs of OSCAR's layout go straight under their path."""
    return f"oscar-{secrets.token_hex(4)}"


def grayify(bucket: str) -> dict:
    return {
        "name": "grayify", "image": "ghcr.io/example/imagemagick",
        "script": 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/out.txt"\necho done >&2',
        "memory": "256Mi", "cpu": "0.5", "log_level": "INFO",
        "environment": {"variables": {"MODE": "gray"}},
        "input": [{"storage_provider": "minio.default", "path": f"{bucket}/in",
                   "suffix": [".txt"]}],
        "output": [{"storage_provider": "minio.default", "path": f"{bucket}/out"}],
    }


async def test_services_are_created_shown_updated_and_deleted(api, bucket):
    created = await api.request("POST", "/system/services", json=grayify(bucket))
    assert created.status == 201, await created.text()
    shown = await (await api.request("GET", "/system/services/grayify")).json()
    assert shown["input"] == [{"storage_provider": "minio.default", "path": f"{bucket}/in",
                               "suffix": [".txt"]}]
    assert shown["output"][0]["path"] == f"{bucket}/out"
    assert shown["environment"] == {"variables": {"MODE": "gray"}} and shown["token"]
    assert (shown["memory"], shown["cpu"]) == ("256Mi", "0.5"), "in the units given"
    listed = await (await api.request("GET", "/system/services")).json()
    assert [s["name"] for s in listed] == ["grayify"]
    updated = await api.request("PUT", "/system/services", json=shown | {"log_level": "DEBUG"})
    assert updated.status == 200, await updated.text()
    assert (await updated.json())["log_level"] == "DEBUG"
    assert (await api.request("DELETE", "/system/services/grayify")).status == 204
    assert (await api.request("GET", "/system/services/grayify")).status == 404


async def test_every_service_names_the_default_storage_provider_without_its_keys(
        api, bucket, settings):
    """checkValues, pkg/handlers/create.go lines 509-516: minio.default with the endpoint,
    verify and region of the server's own, and "hidden" for the keys."""
    await api.request("POST", "/system/services", json=grayify(bucket))
    for shown in [*(await (await api.request("GET", "/system/services")).json()),
                  await (await api.request("GET", "/system/services/grayify")).json()]:
        assert shown["storage_providers"] == {"minio": {"default": {
            "endpoint": settings.s3.url, "verify": True, "access_key": "hidden",
            "secret_key": "hidden", "region": settings.s3.region}}}


async def test_run_takes_and_answers_base64_with_the_service_token(api, bucket):
    service = await (await api.request("POST", "/system/services", json=grayify(bucket))).json()
    encoded = base64.encodebytes(b"hello oscar\n" * 20)
    response = await api.request("POST", "/run/grayify", data=encoded, token=service["token"])
    assert response.status == 200
    assert base64.b64decode(await response.read()) == b"HELLO OSCAR\n" * 20


async def test_run_passes_json_bodies_as_sent(api, bucket):
    await api.request("POST", "/system/services", json=grayify(bucket))
    response = await api.request("POST", "/run/grayify", json={"text": "json body"})
    assert base64.b64decode(await response.read()) == b'{"TEXT": "JSON BODY"}'


async def test_job_returns_the_job_and_its_logs_are_listed(api, bucket):
    await api.request("POST", "/system/services", json=grayify(bucket))
    response = await api.request("POST", "/job/grayify", data=base64.b64encode(b"async"))
    assert response.status == 201
    job = await response.json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")
    logs = await (await api.request("GET", "/system/logs/grayify")).json()
    summary = logs["jobs"][job["id"]]
    assert summary["status"] == "Succeeded"
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    assert all(rfc3339.match(summary[f]) for f in ("creation_time", "start_time",
                                                    "finish_time"))
    text = await (await api.request("GET", f"/system/logs/grayify/{job['id']}")).text()
    assert text == "done\n"
    assert (await api.request("DELETE", f"/system/logs/grayify/{job['id']}")).status == 204
    assert (await api.request("GET", f"/v1/jobs/{job['id']}")).status == 404


async def test_deleting_a_service_s_jobs_takes_the_succeeded_ones_unless_all(api, bucket):
    """MakeDeleteJobsHandler, pkg/handlers/logs.go lines 206-220: `status.successful!=0`
    unless `all` parses true (strconv.ParseBool)."""
    await api.request("POST", "/system/services", json=grayify(bucket) | {
        "script": 'test -s "$INPUT_FILE_PATH" || exit 3; cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR"'})
    ok = await (await api.request("POST", "/job/grayify", data=b"full")).json()
    failed = await (await api.request("POST", "/job/grayify", data=b"")).json()
    for job in (ok, failed):
        await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")
    assert (await api.request("DELETE", "/system/logs/grayify?all=nope")).status == 204
    left = (await (await api.request("GET", "/system/logs/grayify")).json())["jobs"]
    assert list(left) == [failed["id"]] and left[failed["id"]]["status"] == "Failed"
    assert (await api.request("DELETE", "/system/logs/grayify?all=T")).status == 204
    assert (await (await api.request("GET", "/system/logs/grayify")).json())["jobs"] == {}


async def test_only_asynchronous_jobs_are_listed_a_page_at_a_time(gateway_only):
    """MakeJobsInfoHandler, pkg/handlers/logs.go lines 86-122: JOB_LISTING_LIMIT (70,
    pkg/types/config.go line 374) a page, `next_page` and `remaining_jobs`; OSCAR lists
    the Kubernetes Jobs that asynchronous invocations make, none for /run."""
    api = gateway_only
    await api.request("POST", "/system/services", json={"name": "many", "script": "true"})
    waited = await api.request("POST", "/v1/functions/many/invocations",
                               headers={"Prefer": "wait=0"})
    assert waited.status == 201, "a synchronous call whose wait ran out"
    asynchronous = [(await (await api.request("POST", "/job/many", data=b"x")).json())["id"]
                    for _ in range(72)]
    first = await (await api.request("GET", "/system/logs/many?page=")).json()
    assert list(first["jobs"]) == asynchronous[::-1][:70]
    assert first["remaining_jobs"] == 2 and first["next_page"] == asynchronous[2]
    second = await (await api.request("GET", f"/system/logs/many?page={first['next_page']}")
                    ).json()
    assert list(second) == ["jobs"] and list(second["jobs"]) == asynchronous[1::-1]
    assert {job["status"] for job in second["jobs"].values()} == {"Pending"}
    assert (await api.request("GET", "/system/logs/many?page=nonsense")).status == 400


async def test_basic_credentials_are_the_admin_token_and_a_wrong_password_is_401(api):
    """OSCAR's system routes sit behind gin.BasicAuth, which answers 401 to credentials it
    does not know (github.com/gin-gonic/gin auth.go, BasicAuthForRealm)."""
    def basic(password: str) -> dict:
        return {"Authorization": "Basic " + base64.b64encode(f"oscar:{password}".encode()
                                                              ).decode()}
    response = await api.client.get("/system/info", headers=basic(api.token))
    assert response.status == 200
    assert (await api.client.get("/system/info", headers=basic("wrong"))).status == 401
    assert (await api.client.get("/system/services", headers=basic(""))).status == 401
    assert (await api.client.get("/health")).status == 200


async def test_info_says_what_runs_in_oscar_s_shape(api):
    """types.Info, pkg/types/info.go lines 19-32, filled as version.GetInfo fills it."""
    info = await (await api.request("GET", "/system/info")).json()
    assert info["serverless_backend"] == {"name": "Sluice", "version": info["version"]}
    assert info["kubernetes_version"] is None and info["git_commit"] == ""
    assert info["architecture"] in ("amd64", "arm64") and info["executor"] == "process"


async def test_config_gives_the_admin_the_object_store_clients_reach(api, settings, bucket):
    """MakeConfigHandler, pkg/handlers/config.go lines 74-80: ConfigForUser with the server's
    MinIOProvider for Basic credentials; its fields in pkg/types/config.go lines 80-307."""
    config = await (await api.request("GET", "/system/config")).json()
    assert config["minio_provider"] == {
        "endpoint": settings.s3.url, "verify": True, "region": settings.s3.region,
        "access_key": settings.s3.access_key.reveal(),
        "secret_key": settings.s3.secret_key.reveal()}
    assert config["config"]["name"] == "sluice" and config["allowed_image_repositories"] == []
    slash = await api.request("GET", "/system/config/", allow_redirects=False)
    assert (slash.status, slash.headers["Location"]) == (301, "/system/config")
    service = await (await api.request("POST", "/system/services", json=grayify(bucket))).json()
    assert (await api.request("GET", "/system/config", token=service["token"])).status == 403


async def test_the_public_store_address_is_given_where_it_differs(aiohttp_client, settings,
                                                                 worker):
    from dataclasses import replace

    from gateway.app import create_app
    from tests.fixtures.stack import Api
    public = replace(settings, s3=replace(settings.s3, public_url="https://s3.example.org"))
    api = Api(await aiohttp_client(create_app(public)))
    config = await (await api.request("GET", "/system/config")).json()
    assert config["minio_provider"]["endpoint"] == "https://s3.example.org"
    await api.request("POST", "/system/services", json={"name": "pub", "script": "true"})
    shown = await (await api.request("GET", "/system/services/pub")).json()
    assert shown["storage_providers"]["minio"]["default"]["endpoint"] == "https://s3.example.org"


async def test_tokens_are_64_hex_and_renewed_by_oscar_updates_only(api, bucket):
    """utils.GenerateToken (pkg/utils/token.go lines 25-30): 32 random bytes in hex. OSCAR's
    documentation, docs/invoking-sync.md "Service access tokens": tokens "are
    auto-generated in service creation and update"."""
    created = await (await api.request("POST", "/system/services", json=grayify(bucket))).json()
    assert re.fullmatch(r"[0-9a-f]{64}", created["token"])
    updated = await (await api.request("PUT", "/system/services/grayify",
                                       json=grayify(bucket))).json()
    assert updated["token"] != created["token"]
    refused = await api.request("POST", "/run/grayify", data=b"x", token=created["token"])
    assert refused.status == 403
    native = await api.deploy("grayify", script="true")
    assert native["token"] == updated["token"], "the native API keeps a function's token"
    rotated = await api.request("POST", "/v1/functions/grayify/token")
    assert rotated.status == 200
    token = (await rotated.json())["token"]
    assert re.fullmatch(r"[0-9a-f]{64}", token) and token != updated["token"]
    assert (await api.request("POST", "/run/grayify", data=b"x",
                              token=updated["token"])).status == 403
    assert (await api.request("POST", "/run/grayify", data=b"x", token=token)).status == 200


async def test_bad_service_definitions_are_refused_by_path(api):
    response = await api.request("POST", "/system/services", json={
        "name": "bad", "script": "true", "input": [{"storage_provider": "onedata.x",
                                                      "path": "b/in"}],
        "expose": {"api_port": 8080}, "kserve": {"type": "inference"},
        "environment": {"secrets": {"K": "v"}}, "surprise": 1})
    assert response.status == 422
    paths = {e["path"] for e in (await response.json())["errors"]}
    assert paths == {"surprise", "input.0.storage_provider", "expose", "kserve",
                     "environment.secrets"}
    refused = await api.request("POST", "/system/services", json={
        "name": "Bad!", "script": "true", "memory": "lots", "input": [{"path": "UP/in"}]})
    assert {e["path"] for e in (await refused.json())["errors"]} == {
        "name", "memory", "input.0.path"}


async def test_several_outputs_take_the_files_their_filters_match(api, bucket, objects):
    """Each file to every output whose prefixes and suffixes it matches, at <path>/<name>
    (faassupervisor/storage/config.py upload_output at grycap/faas-supervisor 97b91f2)."""
    await api.request("POST", "/system/services", json={
        "name": "split", "script": 'cd "$TMP_OUTPUT_DIR"; echo a > a.png; echo r > report-1.txt',
        "output": [{"path": f"{bucket}/images", "suffix": [".png"]},
                   {"path": f"{bucket}/all"},
                   {"path": f"{bucket}/reports", "prefix": ["report-"]}]})
    job = await (await api.request("POST", "/job/split", data=b"")).json()
    done = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")).json()
    assert done["status"] == "succeeded", done
    keys = sorted(key for key, _, _ in objects.list_objects(bucket) if not key.endswith("/"))
    assert keys == ["all/a.png", "all/report-1.txt", "images/a.png", "reports/report-1.txt"]
    answer = await api.request("POST", "/run/split", data=b"")
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(await answer.read()))) as archive:
        assert sorted(archive.namelist()) == ["a.png", "report-1.txt"], "each file once"
