"""The API describes itself: one OpenAPI 3.1 document made from the routes and the models
(gateway/openapi), served as JSON and YAML, with an API browser at /docs whose assets are
served from a Python package. Schemathesis runs against a live stack in
tests/integration/test_schemathesis.py."""

from __future__ import annotations

import re

import pytest
import yaml
from aiohttp import web
from openapi_spec_validator import validate

from core import functions
from core.jobs import AttemptRecord, Job, JobStatus, Trigger
from gateway.app import create_app
from gateway.openapi import document
from gateway.openapi.operations import described


@pytest.fixture
async def spec(local_gateway):
    response = await local_gateway.client.get("/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    return await response.json()


async def test_the_document_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"] == "3.1.0"


async def test_every_route_of_the_application_is_in_the_document(local_gateway, spec):
    app = local_gateway.client.app
    routes = [(route.method.lower(), route.resource.canonical) for route in app.router.routes()]
    assert len(routes) > 40
    for method, canonical in routes:
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", canonical)
        assert method in spec["paths"].get(path, {}), f"{method.upper()} {path}"


async def test_every_operation_names_its_answers_and_its_problems(spec):
    ids = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            ids.append(operation["operationId"])
            statuses = set(operation["responses"])
            assert any(s.startswith("2") or s in ("301", "302") for s in statuses), (method, path)
            if operation["security"]:
                assert {"401", "403", "503"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= statuses, (method, path)
            for name in re.findall(r"\{(\w+)\}", path):
                assert any(p["in"] == "path" and p["name"] == name
                           for p in operation["parameters"]), (method, path, name)
    assert len(ids) == len(set(ids))


async def test_the_schemas_follow_the_models(spec):
    schemas = spec["components"]["schemas"]
    assert tuple(schemas["FunctionSpec"]["properties"]) == functions.FIELDS
    assert schemas["FunctionSpec"]["properties"]["name"]["pattern"] == functions.NAME.pattern
    job = Job(id="0" * 26, function="f", revision=1, trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=0.0)
    assert set(schemas["Job"]["properties"]) == set(job.to_dict())
    assert schemas["Job"]["properties"]["status"]["enum"] == [str(s) for s in JobStatus]
    attempt = AttemptRecord(job_id=job.id, number=1, finished_at=0.0)
    assert set(schemas["Attempts"]["properties"]["attempts"]["items"]["properties"]) == \
        set(attempt.to_dict()) | {"logs"}


async def test_the_yaml_document_is_the_same_document(local_gateway, spec):
    response = await local_gateway.client.get("/openapi.yaml")
    assert response.status == 200 and response.content_type == "application/yaml"
    assert yaml.safe_load(await response.text()) == spec


async def test_a_browser_is_sent_to_the_api_browser_and_a_program_to_the_document(
        local_gateway):
    client = local_gateway.client
    browser = await client.get("/", headers={"Accept": "text/html,*/*"}, allow_redirects=False)
    assert (browser.status, browser.headers["Location"]) == (302, "/docs")
    program = await client.get("/", headers={"Accept": "application/json"})
    assert (await program.json())["openapi"] == "/openapi.json"


async def test_the_api_browser_and_its_assets_are_served_without_a_cdn(local_gateway):
    client = local_gateway.client
    page = await (await client.get("/docs")).text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/docs/") for a in assets)
    for asset in assets:
        response = await client.get(asset)
        assert response.status == 200 and len(await response.read()) > 100, asset
    missing = await client.get("/docs/..%2Fcore.py")
    assert missing.status == 404 and missing.content_type == "application/problem+json"


def test_a_route_without_a_description_cannot_make_a_document(local_settings):
    app = create_app(local_settings)

    async def undescribed(request):
        return web.Response()

    app.router.add_get("/v1/undescribed", undescribed)
    with pytest.raises(document.Undescribed, match="(HEAD|GET) /v1/undescribed"):
        document.build(app)


def test_a_described_route_appears_with_its_own_words(local_settings):
    app = create_app(local_settings)

    @described("Say hello", tag="test", public=True,
               answers={200: {"description": "Hello"}})
    async def hello(request):
        """Greets."""
        return web.Response()

    app.router.add_get("/v1/hello/{name}", hello)
    operation = document.build(app)["paths"]["/v1/hello/{name}"]["get"]
    assert (operation["summary"], operation["description"]) == ("Say hello", "Greets.")
    assert operation["parameters"][0]["schema"]["pattern"] == functions.NAME.pattern
