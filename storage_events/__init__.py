"""Turns object-storage events into jobs: the objects workers write, S3 notifications
consumed from RabbitMQ (MinIO's AMQP target), and reconciliation scans of trigger prefixes.
Webhooks arrive at the gateway; all sources share `jobs.routing.EventRouter`."""
