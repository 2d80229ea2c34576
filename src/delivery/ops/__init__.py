"""Running the service: structured logs, metrics, embedded PostgreSQL, first-run bootstrap."""
