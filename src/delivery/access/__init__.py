"""Who may do what: API keys, signed and unsigned links, rate limits, idempotent retries."""
