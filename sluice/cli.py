"""The `sluice` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from core.errors import SluiceError
from sluice import deploy_cli, invoke_cli, job_view, jobs_cli, objects_cli, schedules_cli
from sluice.client import Client, ClientError
from sluice.display import local_time as _local_time
from sluice.display import seconds as _seconds
from sluice.display import table as _table


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except ClientError as error:
        print(f"sluice: {error}", file=sys.stderr)
        return 1
    except SluiceError as error:
        # Bad settings, a store or broker out of reach: one line, not a traceback.
        print(f"sluice: {error.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _global_options(*, defaults: bool) -> argparse.ArgumentParser:
    """Options every command takes, before or after its name. Only the top parser has
    defaults: a command's parser must not undo what was given before the command."""
    def default(value):
        return value if defaults else argparse.SUPPRESS
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--url", default=default(None),
                         help="the gateway (default $SLUICE_URL or http://127.0.0.1:8080)")
    options.add_argument("--token", default=default(None),
                         help="bearer token (default $SLUICE_TOKEN or the data dir's "
                              "admin-token)")
    options.add_argument("--json", action="store_true", default=default(False),
                         help="print JSON for scripts")
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description=__doc__,
                                     parents=[_global_options(defaults=True)])
    options = _global_options(defaults=False)
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[options])
        p.set_defaults(handler=handler)
        return p

    from sluice import servers, stack
    p = command("up", stack.up, "run the whole stack on this machine")
    p.add_argument("--port", type=int, help="gateway port (default $SLUICE_PORT or 8080)")
    p.add_argument("--data-dir", help="state directory (default $SLUICE_DATA_DIR or ./.sluice)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p = command("gateway", servers.gateway, "run the HTTP gateway")
    p.add_argument("--port", type=int)
    p.add_argument("--in-process", action="store_true",
                   help="also run a worker, on an in-process broker (no RabbitMQ)")
    command("listener", servers.listener, "run the storage-event listener")
    p = command("worker", servers.worker, "run a worker")
    p.add_argument("--threads", type=int, help="concurrent jobs (default $SLUICE_WORKER_THREADS)")
    p.add_argument("--functions", help="serve only these functions (a worker pool), "
                                       "comma-separated; default: all")
    for step in ("in", "out"):
        p = command(f"stage-{step}", servers.staging, f"stage a Kubernetes Job's "
                    f"{'input' if step == 'in' else 'outputs'} (runs in the Job's pod)")
        p.add_argument("--dir", help="the pod's shared directory (default $SLUICE_DIR or "
                                     "/sluice)")
        p.set_defaults(step=step)
    p = command("follow-stdout", servers.follow_stdout, "print a Kubernetes Job's function's "
                "stdout as it comes (the pod's stdout sidecar)")
    p.add_argument("--dir", help="the pod's shared directory (default $SLUICE_DIR or /sluice)")

    for name in ("deploy", "apply"):
        p = command(name, _with_client(deploy_cli.deploy), "create or update the functions "
                    "in a YAML or JSON file, or the services of an OSCAR FDL file")
        p.add_argument("-f", "--file", required=True, type=Path)
    command("functions", functions, "list functions")
    command("schedule", _with_client(schedules_cli.schedule),
            "list the scheduled functions and when each fires next")
    p = command("function", function, "show a function")
    p.add_argument("name")
    p.add_argument("--callback-secret", action="store_true",
                   help="print only the key that signs its callbacks")
    p = command("invoke", _with_client(invoke_cli.invoke),
                "invoke a function; prints its output")
    p.add_argument("name")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--input", type=Path, help="file to send as the input")
    source.add_argument("--text", help="text to send as the input (text/plain)")
    p.add_argument("--content-type", help="the input's type (default: text/plain for "
                                          "--text, else guessed from the file's name)")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter, which the function sees as $PARAM_NAME (repeatable)")
    p.add_argument("--async", dest="is_async", action="store_true", help="print the job id "
                   "and return at once")
    p.add_argument("--wait", type=int, help="seconds to wait before answering with the job")
    p.add_argument("--output", type=Path, help="write the output here instead of stdout")
    p.add_argument("--idempotency-key", help="at most one job per key (default: a new key, "
                                             "sent again if the connection drops)")
    p.add_argument("--callback", metavar="URL", help="POST the job's record there when it "
                                                     "ends (X-Callback-Url)")
    p = command("run", _with_client(invoke_cli.run), "invoke a function and write its "
                "output (like oscar-cli service run)")
    p.add_argument("name")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="file to send")
    source.add_argument("--text-input", help="text to send")
    p.add_argument("--output", type=Path, help="write the output here instead of stdout")
    p = command("put", _with_client(objects_cli.put), "upload files: put FILE... BUCKET/PREFIX/")
    p.add_argument("files", nargs="+")
    p.add_argument("destination")
    p = command("get", _with_client(objects_cli.get), "download an object")
    p.add_argument("location", help="BUCKET/KEY")
    p.add_argument("--output", "-o", help="file to write (default: the key's name; - for "
                                         "stdout)")
    p = command("ls", _with_client(objects_cli.ls), "list objects under BUCKET[/PREFIX]")
    p.add_argument("location")
    p = command("rm", _with_client(objects_cli.rm), "remove objects")
    p.add_argument("locations", nargs="+", metavar="BUCKET/KEY")
    p = command("scan", _with_client(objects_cli.scan), "start a job for every object already "
                                                        "in a function's input folders")
    p.add_argument("name")
    p = command("jobs", jobs, "list jobs, newest first")
    p.add_argument("--function")
    p.add_argument("--status")
    p.add_argument("--failed", action="store_true", help="only the failed ones (--status failed)")
    p.add_argument("--limit", type=int, default=20)
    p = command("job", _with_client(job_view.show), "show a job")
    p.add_argument("id")
    p.add_argument("--wait", action="store_true", help="wait until it has finished")
    p = command("logs", logs, "print a job's stdout and stderr")
    p.add_argument("id")
    p.add_argument("--stream", choices=("all", "stdout", "stderr"), default="all")
    p.add_argument("--attempt", type=int, help="that attempt's log (default: the last's)")
    p.add_argument("--follow", "-f", action="store_true",
                   help="print it as it is printed, attempt after attempt, until the job "
                        "ends; exit 0 if it succeeded")
    p = command("cancel", _with_client(jobs_cli.cancel),
                "cancel a queued or running job, or a function's queue")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?")
    which.add_argument("--queued", metavar="FUNCTION",
                       help="cancel every job of FUNCTION that has not started")
    p = command("rm-job", _with_client(jobs_cli.remove_job),
                "delete a finished job: its record, logs and outputs")
    p.add_argument("id")
    p = command("retry", _with_client(jobs_cli.retry),
                "run a failed or cancelled job again, or a function's failed jobs")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?")
    which.add_argument("--function", help="every failed job of FUNCTION (with --failed)")
    p.add_argument("--failed", action="store_true", help="the failed jobs (with --function)")
    p.add_argument("--since", help="only those that ended within this long, such as 1h")
    p.add_argument("--original-revision", action="store_true",
                   help="on the revision it was invoked with (default: the current one)")
    jobs_cli.add_results_command(command)
    return parser


def _client(args) -> Client:
    return Client(args.url, args.token)


def _with_client(handler):
    return lambda args: handler(args, _client(args))


def functions(args) -> None:
    listing = _client(args).json("GET", "/v1/functions")["functions"]
    if args.json:
        print(json.dumps(listing, indent=2))
        return
    _table([(f["name"], f["mode"], f["revision"], _runs(f)) for f in listing],
           ("NAME", "MODE", "REVISION", "RUNS"))


def function(args) -> None:
    if args.callback_secret:
        answer = _client(args).json("GET", f"/v1/functions/{args.name}/callback-secret")
        print(json.dumps(answer) if args.json else answer["secret"])
        return
    fn = _client(args).json("GET", f"/v1/functions/{args.name}")
    if args.json:
        print(json.dumps(fn, indent=2))
        return
    fn["next_fire"] = _local_time(fn.get("next_fire"))
    print(yaml.safe_dump(fn, sort_keys=False).rstrip())


def _runs(fn: dict) -> str:
    if fn.get("command"):
        return " ".join(fn["command"])
    return "(script)" if fn.get("script") else f"image {fn.get('image')}"


def jobs(args) -> None:
    listing = _client(args).json("GET", "/v1/jobs", query={
        "function": args.function, "status": "failed" if args.failed else args.status,
        "limit": args.limit})["jobs"]
    if args.json:
        print(json.dumps(listing, indent=2))
        return
    _table([(j["id"], j["function"], j["status"], _seconds(j["runtime"]),
             _local_time(j["created_at"]))
            for j in listing], ("ID", "FUNCTION", "STATUS", "RUNTIME", "CREATED"))


def logs(args) -> int | None:
    if args.follow:
        return jobs_cli.follow_logs(args, _client(args))
    query = {"stream": args.stream}
    if args.attempt is not None:
        query["attempt"] = str(args.attempt)
    response = _client(args).request("GET", f"/v1/jobs/{args.id}/logs", query=query)
    sys.stdout.buffer.write(response.body)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
