"""A small HTTP client for the native API (standard library only, so the CLI starts fast)."""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from core import config


class ClientError(Exception):
    """One line a user can act on."""


class Unreachable(ClientError):
    """No gateway answered at the address."""


class ConnectionLost(ClientError):
    """The connection dropped after the request was sent: it may have been acted on."""


# Invocations whose connection drops are sent again, with the same idempotency key, for
# about this long: the gateway answers with the job the first one made, and waits for it.
REFIND_SECONDS = 60.0
# What a gateway that answers a waiting caller early because it stops says (with 201).
STOPPING = ("Sluice-Gateway", "stopping")


@dataclasses.dataclass(frozen=True)
class Event:
    """One Server-Sent Event; `id` is the last one given, as a client sends it back."""

    kind: str
    data: str
    id: str | None


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def default_token(data_dir: str | None = None) -> str | None:
    token = os.environ.get("SLUICE_TOKEN")
    if token:
        return token
    configured = config.load().values.get("SLUICE_DATA_DIR")
    path = Path(data_dir or configured or ".sluice") / "admin-token"
    return path.read_text().strip() if path.is_file() else None


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 330):
        self.url = (url or os.environ.get("SLUICE_URL") or "http://127.0.0.1:8080").rstrip("/")
        self.token = token if token is not None else default_token()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None, query: dict | None = None,
                ok: tuple[int, ...] = (200, 201, 202, 204)) -> Response:
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                response = Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            response = Response(error.code, error.headers, error.read())
        except urllib.error.URLError as error:
            raise Unreachable(f"cannot reach Sluice at {self.url} ({error.reason}); is it "
                              f"running (make up)?") from None
        except (http.client.HTTPException, ConnectionError) as error:
            raise ConnectionLost(f"the connection to {self.url} dropped ({error!r})") from None
        except (http.client.InvalidURL, ValueError) as error:
            raise ClientError(f"cannot request {path!r}: {error}") from None
        if response.status not in ok:
            raise ClientError(_problem_text(response))
        return response

    def stream_lines(self, method: str, path: str):
        """The lines of a streamed answer, as they arrive."""
        for line in self._lines(urllib.request.Request(self.url + path, method=method,
                                                       data=b"")):
            if line.strip():
                yield line

    def events(self, path: str, *, query: dict | None = None, last_event_id: str | None = None
               ) -> Iterator[Event]:
        """The Server-Sent Events of a GET, as they arrive."""
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        kind, data, event_id = "message", [], last_event_id
        for raw in self._lines(urllib.request.Request(url, headers=headers)):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if data:
                    yield Event(kind, "\n".join(data), event_id)
                kind, data = "message", []
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value

    def _lines(self, request: urllib.request.Request) -> Iterator[bytes]:
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                yield from answer
        except urllib.error.HTTPError as error:
            raise ClientError(_problem_text(Response(error.code, error.headers,
                                                     error.read()))) from None
        except urllib.error.URLError as error:
            raise Unreachable(f"cannot reach Sluice at {self.url} ({error.reason}); is it "
                              f"running (make up)?") from None
        except (http.client.HTTPException, ConnectionError, TimeoutError) as error:
            raise ConnectionLost(f"the connection to {self.url} dropped ({error!r})") from None

    def invoke(self, function: str, body: bytes, headers: dict[str, str], *,
               ok: tuple[int, ...], key: str | None = None,
               params: list[tuple[str, str]] | None = None,
               notify: Callable[[str], None] | None = None) -> Response:
        """Invoke `function` with an idempotency key (a new one unless given). If the
        connection drops once the request was sent (its gateway died, say), or the gateway
        answers a synchronous call early because it stops, the same request is sent again
        until a gateway answers, for `REFIND_SECONDS`: the job the first one made is found by
        its key and waited for, and none is made twice. `params` are the invocation's
        parameters, sent as its query."""
        key = key or uuid.uuid4().hex
        headers = {**headers, "Idempotency-Key": key}
        path = f"/v1/functions/{urllib.parse.quote(function)}/invocations"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        deadline, lost = time.monotonic() + REFIND_SECONDS, False
        while True:
            try:
                response = self.request("POST", path, body=body, headers=headers, ok=ok)
            except (ConnectionLost, Unreachable) as error:
                if isinstance(error, Unreachable) and not lost or time.monotonic() > deadline:
                    raise
                why, pause = str(error), 1.0
            else:
                if response.headers.get(STOPPING[0]) != STOPPING[1] \
                        or time.monotonic() > deadline:
                    return response
                # Its listener is closed already: the next request reaches another gateway.
                why, pause = f"the gateway at {self.url} is stopping", 0.2
            if not lost and notify is not None:
                notify(f"{why}; asking again for the same job (idempotency key {key})")
            lost = True
            time.sleep(pause)

    def json(self, method: str, path: str, data: Any = None, **kwargs) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        return self.request(method, path, body=body, headers=headers, **kwargs).json()


def _problem_text(response: Response) -> str:
    try:
        problem = json.loads(response.body)
    except ValueError:
        text = response.body.decode(errors="replace").strip()
        return f"HTTP {response.status}: {text[:300]}"
    message = f"{problem.get('title', 'error')} ({response.status})"
    if problem.get("detail"):
        message += f": {problem['detail']}"
    for error in problem.get("errors", []):
        message += f"\n  {error.get('path')}: {error.get('message')}"
    return message
