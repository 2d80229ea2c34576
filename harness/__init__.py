"""Real processes and fakes shared by tests/ and bench/: `promptpix serve`, nginx, a fake Gemini.

Neither tests/ nor bench/ is imported by the other; both import this package,
which is importable because pytest and `python -m bench.…` run from the repo root.
"""
