"""Settings as frozen dataclasses, built once by `Settings.from_env`; nothing is read at import time."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

from core import config, quantities, results
from core.errors import Invalid
from core.keys import bucket_problem


class Secret:
    """A string that never shows itself in `repr`, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


EXECUTORS = ("process", "container", "kubernetes")
SANDBOXES = ("auto", "bwrap", "none")
PULL_POLICIES = ("never", "if-not-present", "always")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}
_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
# Settings that the commands read themselves: the embedded S3 server's port (`sluice up`)
# and the log level (set before anything else).
READ_BY_THE_COMMANDS = frozenset({"S3_PORT", "LOG_LEVEL"})


def parse_size(text: str, *, name: str) -> int:
    """Parse `65536`, `64MiB`, `512k` and the like into bytes."""
    match = _SIZE.match(text)
    if not match:
        raise Invalid(f"{name} must be a size such as 65536, 512KiB or 64MiB, not {text!r}")
    number, unit = match.groups()
    return int(number) * (_UNITS[unit[0].lower()] if unit else 1)


@dataclasses.dataclass(frozen=True)
class S3Settings:
    url: str = "http://127.0.0.1:8333"
    access_key: Secret | None = None
    secret_key: Secret | None = None
    region: str = "us-east-1"
    system_bucket: str = "sluice"
    bucket: str = "sluice-data"
    public_url: str | None = None
    """Where clients reach the object store, when not at `url` (an address inside a
    cluster, say): what OSCAR's face gives them."""

    @property
    def client_url(self) -> str:
        return self.public_url or self.url


@dataclasses.dataclass(frozen=True)
class KubernetesSettings:
    """For the `kubernetes` executor: where its Jobs go and what stages them."""

    namespace: str = "default"
    image: str = "sluice:0.1.0"
    s3_secret: str = "sluice-s3"
    ttl_seconds: int = 3600
    staging_seconds: int = 300


@dataclasses.dataclass(frozen=True)
class RetrySettings:
    """Attempts that meet a passing failure (a store, the object store or the container
    engine out of reach) run again after an exponential, jittered backoff; after
    `max_attempts` the job fails with reason `unavailable`."""

    max_attempts: int = 8
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 60.0


@dataclasses.dataclass(frozen=True)
class CallbackSettings:
    """How workers deliver callbacks: every `interval_seconds` they POST what is due, each
    POST given `timeout_seconds`; a refused one is tried again after an exponential,
    jittered backoff, until `deadline_seconds` after the job ended, then given up."""

    deadline_seconds: float = 3600.0
    timeout_seconds: float = 10.0
    interval_seconds: float = 1.0
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 300.0


@dataclasses.dataclass(frozen=True)
class ProcessSettings:
    """How the process executor confines a function: as `run_as` (when the worker is root;
    None: as the worker), in a bubblewrap sandbox (`auto`: when installed), with at most
    `max_processes` processes of that user and files of at most `max_file_size` bytes."""

    run_as: str | None = "sluice-fn"
    sandbox: str = "auto"
    max_processes: int = 2048
    max_file_size: int = 16 * 1024**3


# How long a stopping worker's interrupted attempts have to record themselves.
INTERRUPT_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    threads: int = 8
    heartbeat_seconds: float = 5.0
    lease_seconds: float = 20.0
    requeue_after_seconds: float = 60.0
    sweep_interval_seconds: float = 10.0
    executor: str = "process"
    container_host: str | None = None
    pull_policy: str = "if-not-present"
    shutdown_seconds: float = 30.0
    """How long a stopping worker lets its running jobs finish before it interrupts them."""
    retention_seconds: float = 30 * 86400.0
    """How long ended jobs are kept, for functions that do not say (`retention`)."""
    janitor_interval_seconds: float = 600.0
    results_ttl_seconds: float = results.DEFAULT_TTL_SECONDS
    """How long a result a function sends is kept (`SLUICE_RESULTS_TTL`)."""
    work_dir: Path = Path("/tmp/sluice-work")
    """Where the attempts' scratch directories are: never under the data directory."""
    process: ProcessSettings = dataclasses.field(default_factory=ProcessSettings)
    retry: RetrySettings = dataclasses.field(default_factory=RetrySettings)
    callback: CallbackSettings = dataclasses.field(default_factory=CallbackSettings)
    kubernetes: KubernetesSettings = dataclasses.field(default_factory=KubernetesSettings)

    @property
    def stop_seconds(self) -> float:
        """How long a worker may take to stop: its jobs' grace period, then the time its
        interrupted attempts have to record themselves and queue their jobs again."""
        return self.shutdown_seconds + INTERRUPT_SECONDS


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".sluice")
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = ""
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    queue: str = "sluice-jobs"
    admin_token: Secret | None = None
    events_token: Secret | None = None
    s3_events_exchange: str | None = None
    max_body: int = 64 * 1024**2
    inline_max: int = 256 * 1024
    sync_wait_seconds: float = 60.0
    max_chain_depth: int = 10
    max_wait_seconds: float = 300.0
    max_queued: int | None = None
    """Jobs queued on the whole platform past which invocations are answered 429."""
    metrics_port: int | None = None
    deploy_executors: Mapping[str, tuple[str, ...]] | None = None
    """Which executors may run which function (`*`: any function), where worker pools
    differ; None: `worker.executor` runs them all."""
    s3: S3Settings = dataclasses.field(default_factory=S3Settings)
    worker: WorkerSettings = dataclasses.field(default_factory=WorkerSettings)

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin-token"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """From the `SLUICE_*` variables of `environ` (default: the process's), over those
        of the config file that `SLUICE_CONFIG` names."""
        sources = config.load(environ)
        env = sources.values
        read: set[str] = set()

        def get(name: str, default: str | None = None) -> str | None:
            read.add(name)
            value = env.get(f"SLUICE_{name}")
            return value if value not in (None, "") else default

        def number(name: str, default: float, kind=float):
            raw = get(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise Invalid(f"SLUICE_{name} must be a number, not {raw!r}") from None
            if not 0 <= value < float("inf"):
                raise Invalid(f"SLUICE_{name} must be a finite number, not negative")
            return value

        def duration(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = quantities.duration(raw)
            except ValueError as exc:
                raise Invalid(f"SLUICE_{name} {exc}, not {raw!r}") from None
            if not 0 < value < float("inf"):
                raise Invalid(f"SLUICE_{name} must be more than 0")
            return value

        def size(name: str, default: int) -> int:
            raw = get(name)
            return parse_size(raw, name=f"SLUICE_{name}") if raw else default

        def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
            value = get(name, default)
            if value not in choices:
                raise Invalid(f"SLUICE_{name} must be one of {', '.join(choices)}, "
                              f"not {value!r}")
            return value

        configured_dir = get("DATA_DIR", ".sluice")
        data_dir = Path(overrides.pop("data_dir", None) or configured_dir)
        admin = get("ADMIN_TOKEN")
        if admin is None:
            token_file = data_dir / "admin-token"
            if token_file.is_file():
                admin = token_file.read_text().strip() or None
        access, secret = get("S3_ACCESS_KEY"), get("S3_SECRET_KEY")
        events_token = get("EVENTS_TOKEN")
        max_body = get("MAX_BODY")
        values = dict(
            data_dir=data_dir,
            host=get("HOST", "127.0.0.1"),
            port=int(number("PORT", 8080, int)),
            database_url=get("DATABASE_URL", f"sqlite:///{data_dir.resolve() / 'sluice.db'}"),
            broker_url=get("BROKER_URL", cls.broker_url),
            queue=get("QUEUE", cls.queue),
            admin_token=Secret(admin) if admin else None,
            events_token=Secret(events_token) if events_token else None,
            s3_events_exchange=get("S3_EVENTS_EXCHANGE"),
            max_body=parse_size(max_body, name="SLUICE_MAX_BODY") if max_body else cls.max_body,
            sync_wait_seconds=number("SYNC_WAIT", cls.sync_wait_seconds),
            max_chain_depth=int(number("MAX_CHAIN_DEPTH", cls.max_chain_depth, int)),
            max_wait_seconds=number("MAX_WAIT", cls.max_wait_seconds),
            max_queued=int(number("MAX_QUEUED", 0, int)) or None,
            metrics_port=int(number("METRICS_PORT", 0, int)) or None,
            deploy_executors=_deploy_executors(get("DEPLOY_EXECUTORS")),
            s3=S3Settings(
                url=get("S3_URL", S3Settings.url),
                access_key=Secret(access) if access else None,
                secret_key=Secret(secret) if secret else None,
                region=get("S3_REGION", S3Settings.region),
                system_bucket=get("S3_SYSTEM_BUCKET", S3Settings.system_bucket),
                bucket=get("S3_BUCKET", S3Settings.bucket),
                public_url=_http_url("S3_PUBLIC_URL", get("S3_PUBLIC_URL")),
            ),
            worker=WorkerSettings(
                threads=int(number("WORKER_THREADS", WorkerSettings.threads, int)),
                heartbeat_seconds=number("HEARTBEAT", WorkerSettings.heartbeat_seconds),
                lease_seconds=number("LEASE", WorkerSettings.lease_seconds),
                requeue_after_seconds=number("REQUEUE_AFTER", WorkerSettings.requeue_after_seconds),
                sweep_interval_seconds=number("SWEEP_INTERVAL", WorkerSettings.sweep_interval_seconds),
                executor=choice("EXECUTOR", WorkerSettings.executor, EXECUTORS),
                container_host=get("CONTAINER_HOST", env.get("DOCKER_HOST") or None),
                pull_policy=choice("PULL_POLICY", WorkerSettings.pull_policy, PULL_POLICIES),
                shutdown_seconds=number("WORKER_SHUTDOWN", WorkerSettings.shutdown_seconds),
                retention_seconds=duration("RETENTION", WorkerSettings.retention_seconds),
                janitor_interval_seconds=number("JANITOR_INTERVAL",
                                                WorkerSettings.janitor_interval_seconds),
                results_ttl_seconds=duration("RESULTS_TTL", WorkerSettings.results_ttl_seconds),
                work_dir=Path(get("WORK_DIR")
                              or Path(env.get("TMPDIR") or "/tmp") / "sluice-work"),
                process=ProcessSettings(
                    run_as=None if env.get("SLUICE_RUN_AS") == ""
                    else get("RUN_AS", ProcessSettings.run_as),
                    sandbox=choice("SANDBOX", ProcessSettings.sandbox, SANDBOXES),
                    max_processes=int(number("MAX_PROCESSES", ProcessSettings.max_processes,
                                             int)),
                    max_file_size=size("MAX_FILE_SIZE", ProcessSettings.max_file_size),
                ),
                retry=RetrySettings(
                    max_attempts=max(1, int(number("MAX_ATTEMPTS", RetrySettings.max_attempts,
                                                   int))),
                    backoff_seconds=number("RETRY_BACKOFF", RetrySettings.backoff_seconds),
                    backoff_max_seconds=number("RETRY_BACKOFF_MAX",
                                               RetrySettings.backoff_max_seconds),
                ),
                callback=CallbackSettings(
                    deadline_seconds=duration("CALLBACK_DEADLINE",
                                              CallbackSettings.deadline_seconds),
                    timeout_seconds=duration("CALLBACK_TIMEOUT",
                                             CallbackSettings.timeout_seconds),
                    interval_seconds=duration("CALLBACK_INTERVAL",
                                              CallbackSettings.interval_seconds),
                    backoff_seconds=duration("CALLBACK_BACKOFF", CallbackSettings.backoff_seconds),
                    backoff_max_seconds=duration("CALLBACK_BACKOFF_MAX",
                                                 CallbackSettings.backoff_max_seconds),
                ),
                kubernetes=KubernetesSettings(
                    namespace=get("K8S_NAMESPACE", _pod_namespace()),
                    image=get("K8S_IMAGE", KubernetesSettings.image),
                    s3_secret=get("K8S_S3_SECRET", KubernetesSettings.s3_secret),
                    ttl_seconds=int(number("K8S_TTL", KubernetesSettings.ttl_seconds, int)),
                    staging_seconds=int(number("K8S_STAGING_TIMEOUT",
                                               KubernetesSettings.staging_seconds, int)),
                ),
            ),
        )
        values.update(overrides)
        sources.check_known(read | READ_BY_THE_COMMANDS)
        for name, bucket in (("S3_BUCKET", values["s3"].bucket),
                             ("S3_SYSTEM_BUCKET", values["s3"].system_bucket)):
            if bucket_problem(bucket):
                raise Invalid(f"SLUICE_{name} {bucket_problem(bucket)}, not {bucket!r}")
        return cls(**values)


def _http_url(name: str, text: str | None) -> str | None:
    if text is not None and not re.match(r"^https?://[^/\s]+", text):
        raise Invalid(f"SLUICE_{name} must be an http(s) URL, not {text!r}")
    return text


def _deploy_executors(text: str | None) -> dict[str, tuple[str, ...]] | None:
    """`resize=kubernetes,hello=process,*=kubernetes`: a function's name, or `*` for every
    function, and an executor that may run it; a name may come more than once."""
    if text is None:
        return None
    table: dict[str, tuple[str, ...]] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, _, executor = entry.partition("=")
        if not name or executor not in EXECUTORS:
            raise Invalid(f"SLUICE_DEPLOY_EXECUTORS: {entry!r} is not NAME=EXECUTOR with an "
                          f"executor of {', '.join(EXECUTORS)}")
        table[name] = table.get(name, ()) + (executor,)
    return table


def _pod_namespace() -> str:
    """The namespace this process runs in when it runs in a pod, else `default`."""
    try:
        return Path(_NAMESPACE_FILE).read_text().strip() or KubernetesSettings.namespace
    except OSError:
        return KubernetesSettings.namespace
