"""Delivery: the HTTP service, storage, database, auth and caching around `generation`."""
