"""The OSCAR face: service definitions, /run with base64, /job, logs, info, health."""

import base64

SERVICE = {
    "name": "grayify",
    "image": "ghcr.io/example/imagemagick",
    "script": 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/out.txt"\necho done >&2',
    "memory": "256Mi", "cpu": "0.5", "log_level": "INFO",
    "environment": {"variables": {"MODE": "gray"}},
    "input": [{"storage_provider": "minio.default", "path": "oscar-bucket/in",
               "suffix": [".txt"]}],
    "output": [{"storage_provider": "minio.default", "path": "oscar-bucket/out"}],
}


async def test_services_are_created_shown_updated_and_deleted(api):
    created = await api.request("POST", "/system/services", json=SERVICE)
    assert created.status == 201, await created.text()
    shown = await (await api.request("GET", "/system/services/grayify")).json()
    assert shown["input"] == [{"storage_provider": "minio.default", "path": "oscar-bucket/in",
                               "suffix": [".txt"]}]
    assert shown["output"][0]["path"] == "oscar-bucket/out"
    assert shown["environment"] == {"variables": {"MODE": "gray"}} and shown["token"]
    listed = await (await api.request("GET", "/system/services")).json()
    assert [s["name"] for s in listed] == ["grayify"]
    updated = await api.request("PUT", "/system/services", json=SERVICE | {"log_level": "DEBUG"})
    assert updated.status == 200
    assert (await api.request("DELETE", "/system/services/grayify")).status == 204
    assert (await api.request("GET", "/system/services/grayify")).status == 404


async def test_run_takes_and_answers_base64_with_the_service_token(api):
    service = await (await api.request("POST", "/system/services", json=SERVICE)).json()
    encoded = base64.encodebytes(b"hello oscar\n" * 20)
    response = await api.request("POST", "/run/grayify", data=encoded, token=service["token"])
    assert response.status == 200
    assert base64.b64decode(await response.read()) == b"HELLO OSCAR\n" * 20


async def test_run_passes_json_bodies_as_sent(api):
    await api.request("POST", "/system/services", json=SERVICE)
    response = await api.request("POST", "/run/grayify", json={"text": "json body"})
    assert base64.b64decode(await response.read()) == b'{"TEXT": "JSON BODY"}'


async def test_job_returns_the_job_and_its_logs_are_listed(api):
    await api.request("POST", "/system/services", json=SERVICE)
    response = await api.request("POST", "/job/grayify", data=base64.b64encode(b"async"))
    assert response.status == 201
    job = await response.json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")
    logs = await (await api.request("GET", "/system/logs/grayify")).json()
    assert logs["jobs"][job["id"]]["status"] == "Succeeded"
    text = await (await api.request("GET", f"/system/logs/grayify/{job['id']}")).text()
    assert text == "done\n"
    assert (await api.request("DELETE", f"/system/logs/grayify/{job['id']}")).status == 204
    assert (await api.request("GET", f"/v1/jobs/{job['id']}")).status == 404
    await api.request("POST", "/job/grayify", data=b"x")
    assert (await api.request("DELETE", "/system/logs/grayify?all=true")).status == 204
    assert (await (await api.request("GET", "/system/logs/grayify")).json())["jobs"] == {}


async def test_basic_auth_with_the_admin_token_is_accepted(api):
    basic = base64.b64encode(f"oscar:{api.token}".encode()).decode()
    response = await api.client.get("/system/info", headers={"Authorization": f"Basic {basic}"})
    assert response.status == 200 and (await response.json())["version"]
    assert (await api.client.get("/health")).status == 200


async def test_bad_service_definitions_are_refused_by_path(api):
    response = await api.request("POST", "/system/services", json={
        "name": "bad", "script": "true", "input": [{"storage_provider": "onedata.x",
                                                      "path": "b/in"}],
        "output": [{"path": "b/o1"}, {"path": "b/o2"}], "surprise": 1})
    assert response.status == 422
    paths = {e["path"] for e in (await response.json())["errors"]}
    assert paths == {"surprise", "input.0.storage_provider", "output"}
