"""Intake: the Redis buffer the webhook writes, storing turns in PostgreSQL (one insert), the batch ingest job."""
