"""`sluice invoke` and `sluice run`: the input with its content type and the parameters,
sent with an idempotency key; the answer printed, or the job when it is not done."""

from __future__ import annotations

import mimetypes
import sys

from sluice.client import Client, ClientError

TEXT = "text/plain; charset=utf-8"
BYTES = "application/octet-stream"


def run(args, client: Client) -> int:
    args.text, args.is_async, args.wait = args.text_input, False, None
    return invoke(args, client)


def invoke(args, client: Client) -> int:
    body, kind = _input(args)
    headers = {"Content-Type": getattr(args, "content_type", None) or kind}
    prefer = []
    if args.is_async:
        prefer.append("respond-async")
    if args.wait is not None:
        prefer.append(f"wait={args.wait}")
    if prefer:
        headers["Prefer"] = ", ".join(prefer)
    if getattr(args, "callback", None):
        headers["X-Callback-Url"] = args.callback
    response = client.invoke(args.name, body, headers, ok=(200, 201, 409, 502, 503, 504),
                             key=getattr(args, "idempotency_key", None),
                             params=_params(getattr(args, "param", [])),
                             notify=lambda text: print(f"sluice: {text}", file=sys.stderr))
    job_id = response.headers.get("Sluice-Job-Id")
    if response.status == 201:
        if args.json:
            print(response.body.decode())
        else:
            print(job_id)
            if not args.is_async:
                print(f"still running; follow it with: sluice job {job_id} --wait",
                      file=sys.stderr)
        return 0
    if args.output:
        args.output.write_bytes(response.body)
    else:
        sys.stdout.buffer.write(response.body)
        sys.stdout.flush()
    if response.status != 200:
        status = response.headers.get("Sluice-Job-Status")
        if response.headers.get("Sluice-Reason") not in (None, "error"):
            status += f" ({response.headers['Sluice-Reason']})"
        print(f"sluice: job {job_id} {status} (exit code "
              f"{response.headers.get('Sluice-Exit-Code', '-')}); see: sluice logs {job_id}",
              file=sys.stderr)
        return 1
    return 0


def _input(args) -> tuple[bytes, str]:
    """The body and the content type it goes with unless one is given: text for --text, a
    file's guessed from its name."""
    if args.input:
        try:
            return args.input.read_bytes(), mimetypes.guess_type(args.input.name)[0] or BYTES
        except OSError as error:
            raise ClientError(f"cannot read {args.input}: {error.strerror}") from None
    if args.text is not None:
        return args.text.encode(), TEXT
    return b"", BYTES


def _params(given: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in given:
        name, equals, value = item.partition("=")
        if not equals:
            raise ClientError(f"--param {item!r} must be NAME=VALUE")
        pairs.append((name, value))
    return pairs
