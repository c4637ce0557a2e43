"""Table definitions used by the queries; migrations under `migrations/` create them."""

import sqlalchemy as sa

metadata = sa.MetaData()

functions = sa.Table(
    "functions", metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("token", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Every revision a function ever had, kept after it was replaced or deleted: a job runs the
# revision it was invoked with. Numbers are never reused, not even by a function deleted and
# created again, so (name, revision) always names one spec.
function_revisions = sa.Table(
    "function_revisions", metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Each scheduled function's next fire time, advanced by compare-and-set by whichever
# listener fires it; `schedule` is the text it was computed for (a deploy that changes it
# computes it again, one that keeps it keeps the time).
schedules = sa.Table(
    "schedules", metadata,
    sa.Column("function", sa.String(63), primary_key=True),
    sa.Column("schedule", sa.String(255), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("next_fire", sa.Float, nullable=False),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("function", sa.String(63), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("idempotency_key", sa.String(1024), unique=True),
    sa.Column("input_ref", sa.String(1100)),
    sa.Column("input_size", sa.BigInteger, nullable=False, default=0),
    sa.Column("content_type", sa.String(255)),
    sa.Column("params", sa.JSON),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("published_at", sa.Float),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("exit_code", sa.Integer),
    sa.Column("reason", sa.String(16)),
    sa.Column("error", sa.Text),
    sa.Column("cpu_seconds", sa.Float),
    sa.Column("peak_memory", sa.BigInteger),
    sa.Column("io_read_bytes", sa.BigInteger),
    sa.Column("io_write_bytes", sa.BigInteger),
    sa.Column("bytes_in", sa.BigInteger, nullable=False, default=0),
    sa.Column("bytes_out", sa.BigInteger, nullable=False, default=0),
    sa.Column("outputs", sa.JSON),
    sa.Column("stdout_ref", sa.String(1100)),
    sa.Column("stderr_ref", sa.String(1100)),
    sa.Column("owner", sa.String(255)),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("depth", sa.Integer, nullable=False, default=0),
    sa.Column("source_bucket", sa.String(63)),
    sa.Column("source_key", sa.String(1024)),
    sa.Column("source_version", sa.String(255)),
    sa.Column("event", sa.JSON),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("resumed_after", sa.Integer, nullable=False, default=0),
    sa.Column("callback_url", sa.String(2048)),
    sa.Column("callback_on", sa.String(64)),
    sa.Column("callback_state", sa.String(16)),
    sa.Column("callback_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("callback_error", sa.Text),
    sa.Column("callback_due_at", sa.Float),
    sa.Column("callback_delivered_at", sa.Float),
    sa.Column("synchronous", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_jobs_function_id", "function", "id"),
    sa.Index("ix_jobs_status_created", "status", "created_at"),
    sa.Index("ix_jobs_function_status", "function", "status"),
    sa.Index("ix_jobs_function_finished", "function", "finished_at"),
    # Only the callbacks still to send: it stays as small as they are few.
    sa.Index("ix_jobs_callback_due", "callback_due_at",
             sqlite_where=sa.text("callback_state = 'pending'"),
             postgresql_where=sa.text("callback_state = 'pending'")),
)

attempts = sa.Table(
    "attempts", metadata,
    sa.Column("job_id", sa.String(26), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(255)),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("reason", sa.String(16)),
    sa.Column("error", sa.Text),
    sa.Column("cpu_seconds", sa.Float),
    sa.Column("peak_memory", sa.BigInteger),
    sa.Column("io_read_bytes", sa.BigInteger),
    sa.Column("io_write_bytes", sa.BigInteger),
    sa.Column("stdout_ref", sa.String(1100)),
    sa.Column("stderr_ref", sa.String(1100)),
)

# What a running attempt has printed so far, shipped by its worker about once a second so
# that any gateway can follow it; deleted when the attempt's log is kept (`logchunks`).
# A chunk with no data marks where a stream stops being shipped (it reached its limit).
log_chunks = sa.Table(
    "log_chunks", metadata,
    sa.Column("job_id", sa.String(26), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("stream", sa.String(6), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# What functions published while they ran (`core.results`), in the order it arrived: the
# sequence is the table's own, so no two writers of one job can take the same number, and
# it is never given again (a page's cursor stays good after a pop).
results = sa.Table(
    "results", metadata,
    sa.Column("sequence", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("job_id", sa.String(26), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_results_job_sequence", "job_id", "sequence"),
    sa.Index("ix_results_expires", "expires_at"),
    sqlite_autoincrement=True,
)

blobs = sa.Table(
    "blobs", metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


def storable(text: str | None) -> str | None:
    """Text a column can hold: PostgreSQL refuses NUL, which a function can put in what its
    attempt reports (GNU time's notes come from its scratch directory)."""
    return text.replace("\0", "\ufffd") if text else text
