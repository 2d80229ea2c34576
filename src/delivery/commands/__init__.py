"""Implementations of `promptpix` subcommands; `cli.py` registers them."""
