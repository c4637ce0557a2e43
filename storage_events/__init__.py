"""Turns object-storage events, reconciliation scans and schedules into jobs (next step)."""
