"""The job store: functions, jobs and small blobs on SQLAlchemy Core (SQLite or PostgreSQL)."""

from core.store.functionrows import StoredFunction
from core.store.jobstore import JobStore

__all__ = ["JobStore", "StoredFunction"]
