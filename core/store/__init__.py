"""The job store: functions, jobs and small blobs on SQLAlchemy Core (SQLite or PostgreSQL)."""

from core.store.jobstore import JobStore, StoredFunction

__all__ = ["JobStore", "StoredFunction"]
