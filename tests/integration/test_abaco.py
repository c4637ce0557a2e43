"""The Abaco face against the real stack (RabbitMQ, SeaweedFS, a worker): Abaco's clients
and curl recipes register actors, message them and read their executions, logs and answers
as Abaco gives them. What each answer follows is cited from TACC/abaco at 9e83e1c (file and
line) or from its documentation, docs/user_docs.md."""

from __future__ import annotations

import asyncio
import json
import shutil

from aiohttp import web

from tests.fixtures.signals import until

ECHO_MSG = 'echo "Contents of MSG: $MSG"'
# What the actor was given, how Abaco typed it, and its MSG, as three outputs.
KEEP_MESSAGE = ('cat "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/in"; '
                'printf %s "$_abaco_Content_Type" > "$TMP_OUTPUT_DIR/type"; '
                'printf %s "${MSG-unset}" > "$TMP_OUTPUT_DIR/msg"')


async def answer(response) -> dict:
    """The envelope of every answer (actors/request_utils.py:47-59), checked."""
    body = await response.json()
    assert set(body) == {"message", "result", "status", "version"}, body
    assert body["status"] == ("success" if response.status < 400 else "error"), body
    return body


async def register(api, **actor) -> dict:
    response = await api.request("POST", "/actors/v2", json=actor)
    assert response.status == 200, await response.text()
    return (await answer(response))["result"]


async def execution(api, actor_id: str, execution_id: str) -> dict:
    response = await api.request("GET", f"/actors/v2/{actor_id}/executions/{execution_id}")
    assert response.status == 200, await response.text()
    return (await answer(response))["result"]


async def ended(api, actor_id: str, execution_id: str) -> dict:
    """The execution once it is COMPLETE or ERROR (models.py:1441-1462)."""
    async def done():
        record = await execution(api, actor_id, execution_id)
        return record if record["status"] in ("COMPLETE", "ERROR") else None
    return await until(done, what=f"execution {execution_id} ending")


async def logs(api, actor_id: str, execution_id: str) -> str:
    response = await api.request(
        "GET", f"/actors/v2/{actor_id}/executions/{execution_id}/logs")
    return (await answer(response))["result"]["logs"]


async def output(api, job_id: str, name: str) -> bytes:
    response = await api.request("GET", f"/v1/jobs/{job_id}/outputs/{name}")
    assert response.status == 200, await response.text()
    return await response.read()


async def test_the_curl_example_of_abacos_documentation_works_as_written(api):
    """docs/user_docs.md:263: `curl -H "Authorization: Bearer $TOKEN" -d "message=..."
    .../actors/v2/$REACTOR_ID/messages`, answered as controllers.py:1832 and 1848-1852 do."""
    actor = await register(api, name="test", description="My test actor", script=ECHO_MSG)
    url = str(api.client.make_url(f"/actors/v2/{actor['id']}/messages"))
    argv = ["-H", f"Authorization: Bearer {api.token}", "-d", "message=<your content here>"]
    if shutil.which("curl"):
        curl = await asyncio.create_subprocess_exec(
            "curl", "-sS", *argv, url, stdout=asyncio.subprocess.PIPE)
        body, _ = await curl.communicate()
        assert curl.returncode == 0
        sent = json.loads(body)
    else:
        response = await api.request("POST", url, data=b"message=<your content here>", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        sent = await answer(response)
    assert sent["status"] == "success" and sent["result"]["msg"] == "<your content here>"
    execution_id = sent["result"]["executionId"]
    assert sent["result"]["_links"]["self"].endswith(
        f"/actors/v2/{actor['id']}/executions/{execution_id}")
    assert (await ended(api, actor["id"], execution_id))["status"] == "COMPLETE"
    assert await logs(api, actor["id"], execution_id) == "Contents of MSG: <your content here>\n"


async def test_raw_json_and_binary_messages_reach_the_actor_byte_for_byte(api):
    """controllers.py:1704-1746 types them str, application/json and
    application/octet-stream; MSG holds the text, never binary (docker_utils.py:541-542)."""
    actor = await register(api, script=KEEP_MESSAGE)
    messages = f"/actors/v2/{actor['id']}/messages"
    text = "héllo wörld & = + %"
    document = b'{"b": [1, 2.5, null],   "a": "\\u00e9"}'
    binary = bytes(range(256)) * 16
    sent = [
        await api.request("POST", messages, data={"message": text}),
        await api.request("POST", messages, data=document,
                          headers={"Content-Type": "application/json"}),
        await api.request("POST", messages, data=binary,
                          headers={"Content-Type": "application/octet-stream"})]
    results = [(await answer(response))["result"] for response in sent]
    assert [r["msg"] for r in results] == [text, json.loads(document), "binary - omitted"]
    for result, given, kind, msg in (
            (results[0], text.encode(), b"str", text.encode()),
            (results[1], document, b"application/json", document),
            (results[2], binary, b"application/octet-stream", b"unset")):
        assert (await ended(api, actor["id"], result["executionId"]))["status"] == "COMPLETE"
        kept = [await output(api, result["executionId"], name) for name in ("in", "type", "msg")]
        assert kept == [given, kind, msg]


async def test_a_synchronous_message_is_answered_with_the_logs(api):
    """`?_abaco_synchronous=true` waits and answers the logs as Flask's make_response does
    with text: text/html (controllers.py:1851, 1903-1916)."""
    actor = await register(api, script=ECHO_MSG + "; echo to stderr >&2")
    response = await api.request("POST", f"/actors/v2/{actor['id']}/messages?"
                                 "_abaco_synchronous=true", data={"message": "now"})
    assert response.status == 200 and response.content_type == "text/html"
    assert await response.text() == "Contents of MSG: now\nto stderr\n"


async def test_executions_are_listed_and_shown_with_abacos_fields(api):
    """ExecutionsSummary (models.py:1712-1749) and Execution (1441-1462, 1677-1693), in the
    hosted API's camelCase (docs/specs/openapi_v3.yml); an exit code other than 0 is still
    COMPLETE (worker.py:551)."""
    actor = await register(api, script='[ "$MSG" = ok ] || exit 3')
    ids = []
    for text in ("ok", "not ok"):
        sent = await api.request("POST", f"/actors/v2/{actor['id']}/messages",
                                 data={"message": text})
        ids.append((await answer(sent))["result"]["executionId"])
    first, second = [await ended(api, actor["id"], i) for i in ids]
    assert (first["exitCode"], second["exitCode"]) == (0, 3)
    assert (first["status"], second["status"], second["finalState"]["ExitCode"]) == (
        "COMPLETE", "COMPLETE", 3)
    assert first["actorId"] == actor["id"] and first["executor"] == "admin"
    assert first["workerId"] and isinstance(first["runtime"], int)
    assert first["messageReceivedTime"] <= first["startTime"] <= first["finishTime"]
    assert first["finishTime"].endswith("Z") and first["finalState"]["Status"] == "exited"
    listed = await api.request("GET", f"/actors/v2/{actor['id']}/executions")
    summary = (await answer(listed))["result"]
    assert [e["id"] for e in summary["executions"]] == ids
    assert summary["totalExecutions"] == 2 and summary["actorId"] == actor["id"]
    assert summary["totalRuntime"] == first["runtime"] + second["runtime"]


async def test_a_running_execution_is_force_quit_and_only_a_running_one(api):
    """controllers.py:1571-1591: DELETE stops a RUNNING execution; another is refused."""
    actor = await register(api, script="echo started; sleep 30")
    sent = await api.request("POST", f"/actors/v2/{actor['id']}/messages",
                             data={"message": "x"})
    execution_id = (await answer(sent))["result"]["executionId"]
    path = f"/actors/v2/{actor['id']}/executions/{execution_id}"
    await until(lambda: _status_is(api, actor["id"], execution_id, "RUNNING"),
                what="the execution running")
    quit_ = await answer(await api.request("DELETE", path))
    assert quit_["message"] == f"Issued force quit command for execution {execution_id}."
    stopped = await ended(api, actor["id"], execution_id)
    assert stopped["status"] == "COMPLETE" and stopped["runtime"] < 30
    again = await api.request("DELETE", path)
    assert again.status == 400
    assert (await answer(again))["message"] == (
        "Cannot force quit an execution not in RUNNING status. Execution was found in "
        "status: COMPLETE")


async def _status_is(api, actor_id: str, execution_id: str, status: str) -> bool:
    return (await execution(api, actor_id, execution_id))["status"] == status


async def test_messages_that_wait_are_counted_and_purged(gateway_only):
    """controllers.py:1669-1702: `{"messages": N}`, and the mailbox purged; with no worker,
    the messages wait, SUBMITTED."""
    api = gateway_only
    actor = await register(api, script="true")
    messages = f"/actors/v2/{actor['id']}/messages"
    ids = [(await answer(await api.request("POST", messages, data={"message": str(n)})))
           ["result"]["executionId"] for n in range(3)]
    counted = await answer(await api.request("GET", messages))
    assert counted["result"]["messages"] == 3
    assert (await execution(api, actor["id"], ids[0]))["status"] == "SUBMITTED"
    purged = await answer(await api.request("DELETE", messages))
    assert purged["result"]["msg"] == "Actor mailbox purged."
    assert (await answer(await api.request("GET", messages)))["result"]["messages"] == 0
    assert (await execution(api, actor["id"], ids[0]))["status"] == "ERROR"


async def test_an_actor_is_registered_shown_updated_and_deleted(api):
    """ActorsResource and ActorResource (controllers.py:803-1181): a form registers an
    actor as Abaco's own tests do (tests/test_abaco_core.py:189-199), PUT replaces the
    description and keeps the name (1147), and every path works under /actors too."""
    form = {"name": "abaco_test_suite", "script": "true", "description": "first",
            "stateless": "True"}
    created = await api.request("POST", "/actors", data=form)
    actor = (await answer(created))["result"]
    assert (actor["name"], actor["description"], actor["owner"]) == (
        "abaco_test_suite", "first", "admin")
    assert len(actor["id"]) == 13 and actor["revision"] == 1
    shown = await answer(await api.request("GET", f"/actors/v2/{actor['id']}"))
    assert shown["result"] == {**actor, "_links": shown["result"]["_links"]}
    assert shown["result"]["_links"]["self"].endswith(f"/actors/v2/{actor['id']}")
    listed = await answer(await api.request("GET", "/actors/v2"))
    assert [a["id"] for a in listed["result"]] == [actor["id"]]
    updated = await api.request("PUT", f"/actors/{actor['id']}", json={
        "name": "renamed", "script": "true", "description": "second",
        "default_environment": {"key1": "value1"}, "maxWorkers": 2})
    replaced = (await answer(updated))["result"]
    assert (replaced["name"], replaced["description"], replaced["revision"]) == (
        "abaco_test_suite", "second", 2)
    assert (replaced["defaultEnvironment"], replaced["maxWorkers"]) == ({"key1": "value1"}, 2)
    gone = await answer(await api.request("DELETE", f"/actors/v2/{actor['id']}"))
    assert gone["message"] == "Actor deleted successfully." and gone["result"] is None
    assert (await api.request("GET", f"/actors/v2/{actor['id']}")).status == 404


async def test_an_actor_sees_abacos_context_variables(api):
    """Those the message carries (controllers.py:1794-1813) and the worker adds
    (worker.py:416-422), beside its default environment."""
    actor = await register(api, name="ctx", defaultEnvironment={"key1": "value1"},
                           script="env | grep -E '^(_abaco_|_actor_configs|key1)' | sort")
    sent = await api.request("POST", f"/actors/v2/{actor['id']}/messages",
                             data={"message": "hi"})
    execution_id = (await answer(sent))["result"]["executionId"]
    record = await ended(api, actor["id"], execution_id)
    printed = dict(line.split("=", 1)
                   for line in (await logs(api, actor["id"], execution_id)).splitlines())
    server = str(api.client.make_url("/")).rstrip("/")
    assert printed == {
        "_abaco_Content_Type": "str", "_abaco_access_token": "",
        "_abaco_actor_dbid": actor["id"], "_abaco_actor_id": actor["id"],
        "_abaco_actor_name": "ctx", "_abaco_actor_revision": "1",
        "_abaco_actor_state": "{}", "_abaco_api_server": server,
        "_abaco_container_repo": "", "_abaco_execution_id": execution_id,
        "_abaco_username": "admin", "_abaco_worker_id": record["workerId"],
        "_actor_configs": "{}", "key1": "value1"}


async def test_a_linked_actor_gets_each_ended_execution_as_abacos_event(api):
    """events.py:58-84: the link gets the EXECUTION_COMPLETE event (models.py:1618-1623) as
    JSON, sent by 'Abaco Event' (events.py:48-49)."""
    linked = await register(api, script='cat "$INPUT_FILE_PATH"; echo; '
                                        'echo "$_abaco_username|$_abaco_Content_Type"')
    actor = await register(api, script="exit 2", link=linked["id"])
    assert actor["link"] == linked["id"]
    sent = await api.request("POST", f"/actors/v2/{actor['id']}/messages",
                             data={"message": "go"})
    execution_id = (await answer(sent))["result"]["executionId"]
    handed = await until(lambda: _executions_of(api, linked["id"]), what="the link's execution")
    done = await ended(api, linked["id"], handed[0]["id"])
    event, sender = (await logs(api, linked["id"], done["id"])).splitlines()
    event = json.loads(event)
    assert (event["event_type"], event["execution_id"], event["actor_id"]) == (
        "EXECUTION_COMPLETE", execution_id, actor["id"])
    assert (event["status"], event["exit_code"], event["_abaco_link"]) == (
        "COMPLETE", 2, linked["id"])
    assert sender == "Abaco Event|application/json" and done["executor"] == "Abaco Event"


async def _executions_of(api, actor_id: str) -> list:
    listed = await api.request("GET", f"/actors/v2/{actor_id}/executions")
    return (await answer(listed))["result"]["executions"]


async def test_a_webhook_gets_the_record_of_each_ended_execution(api, aiohttp_server):
    """Abaco POSTs its events to an actor's webhook (events.py:86-95); Sluice POSTs each
    ended job's record there, as it does to a function's callback."""
    posted = []

    async def receive(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response()
    app = web.Application()
    app.router.add_post("/hook", receive)
    hook = str((await aiohttp_server(app)).make_url("/hook"))
    actor = await register(api, script="true", webhook=hook)
    assert actor["webhook"] == hook
    sent = await api.request("POST", f"/actors/v2/{actor['id']}/messages",
                             data={"message": "x"})
    execution_id = (await answer(sent))["result"]["executionId"]
    await until(lambda: posted, what="the webhook's POST")
    assert (posted[0]["id"], posted[0]["status"]) == (execution_id, "succeeded")


async def test_an_actor_runs_on_its_cron_schedule_with_abacos_cron_message(api, listener):
    """`cronSchedule` (models.py:772-774) fires the actor with 'This is your cron
    execution', typed str, from 'cron' (controllers.py:133-143); `now + 1 hour` starts at
    the current hour, so it fires at once."""
    actor = await register(api, cronSchedule="now + 1 hour",
                           script='echo "$MSG|$_abaco_Content_Type|${_abaco_username-none}"')
    assert (actor["cronSchedule"], actor["cronOn"]) == ("now + 1 hour", True)
    assert actor["cronNextEx"].endswith(":00:00.000Z")
    [fired] = await until(lambda: _executions_of(api, actor["id"]), what="the cron execution")
    done = await ended(api, actor["id"], fired["id"])
    assert done["executor"] == "cron"
    assert await logs(api, actor["id"], done["id"]) == "This is your cron execution|str|none\n"
    off = await api.request("PUT", f"/actors/v2/{actor['id']}", json={
        "script": "true", "cronSchedule": "now + 1 hour", "cronOn": False})
    assert (await answer(off))["result"]["cronOn"] is False


async def test_a_schedule_abaco_cannot_read_is_refused_by_its_name(api):
    """tests/test_abaco_core.py:223-232: a unit Abaco does not know is a 400."""
    response = await api.request("POST", "/actors/v2", json={
        "script": "true", "cronSchedule": "2020-06-21 14 + 6 flimflams"})
    assert response.status == 400
    message = (await answer(response))["message"]
    assert "cronSchedule: 'flimflams' is an invalid unit of time" in message
    assert "the current UTC time is" in message


async def test_a_link_must_name_an_actor_and_make_no_cycle(api):
    """controllers.py:744-778: the link must resolve, and must not lead back."""
    unknown = await api.request("POST", "/actors/v2", json={"script": "true", "link": "nope"})
    assert unknown.status == 400
    assert "Invalid link parameter" in (await answer(unknown))["message"]
    first = await register(api, script="true")
    second = await register(api, script="true", link=first["id"])
    looped = await api.request("PUT", f"/actors/v2/{first['id']}",
                               json={"script": "true", "link": second["id"]})
    assert looped.status == 400
    assert "link: would hand its jobs round a cycle" in (await answer(looped))["message"]


async def test_errors_come_in_abacos_envelope(api):
    """400 for what cannot be read or accepted (controllers.py:1704-1746, a DAOError), 404
    for an unknown actor (958); 401 and 403 for tokens, as the other faces answer them."""
    refusals = [
        (await api.request("GET", "/actors/v2/nope"), 404, "No actor found with id: nope."),
        (await api.request("POST", "/actors/v2", data=b"{not json",
                           headers={"Content-Type": "application/json"}), 400,
         "the body is not valid JSON"),
        (await api.request("POST", "/actors/v2", json={"script": "true", "imgae": "x"}), 400,
         "Invalid actor description: its fields are refused: imgae: unknown field"),
        (await api.request("POST", "/actors/v2", json={"script": "true",
                                                       "defaultEnvironment": {"1x": "y"}}),
         400, "defaultEnvironment.1x: is not a valid variable name"),
        (await api.client.get("/actors/v2"), 401, "send 'Authorization: Bearer <token>'")]
    actor = await register(api, script="true")
    messages = f"/actors/v2/{actor['id']}/messages"
    refusals += [
        (await api.request("POST", messages, data={"other": "field"}), 400,
         "message POST body could not be serialized"),
        (await api.request("POST", messages, data=_chunks(),
                           headers={"Content-Type": "application/octet-stream"}), 400,
         "Content Length required for application/octet-stream."),
        (await api.request("POST", messages, data=b"--b\r\n[not a header\r\n\r\nx\r\n--b--\r\n",
                           headers={"Content-Type": "multipart/form-data; boundary=b"}), 400,
         "the form cannot be read"),
        (await api.request("GET", f"/actors/v2/{actor['id']}/executions/nope"), 404,
         f"No executions found with actor id of {actor['id']} and execution id of nope."),
        (await api.request("GET", "/actors/v2", token="not-a-token"), 403,
         "this operation needs the admin token")]
    for response, status, message in refusals:
        body = await answer(response)
        assert (response.status, body["result"]) == (status, None), body
        assert message in body["message"]


async def _chunks():
    yield b"no length "
    yield b"said"


async def test_an_actors_own_token_messages_it_and_reads_its_executions_only(api):
    """gateway/auth.py: the function's token acts for its function alone."""
    mine, other = await register(api, script="echo mine"), await register(api, script="true")
    token = (await (await api.request("GET", f"/v1/functions/{mine['id']}")).json())["token"]
    sent = await api.request("POST", f"/actors/v2/{mine['id']}/messages", token=token,
                             data={"message": "x"})
    execution_id = (await answer(sent))["result"]["executionId"]
    await until(lambda: _ended_with(api, token, mine["id"], execution_id),
                what="the execution read with the actor's token")
    refused = await api.request("POST", f"/actors/v2/{other['id']}/messages", token=token,
                                data={"message": "x"})
    assert refused.status == 403 and (await answer(refused))["status"] == "error"


async def _ended_with(api, token: str, actor_id: str, execution_id: str) -> bool:
    response = await api.request("GET", f"/actors/v2/{actor_id}/executions/{execution_id}",
                                 token=token)
    return (await answer(response))["result"]["status"] == "COMPLETE"
