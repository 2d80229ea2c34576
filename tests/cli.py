"""`promptpix …` in process: the CLI's `main` with the environment set through monkeypatch.

Running the commands in the test's process costs nothing per call, where a
subprocess pays an interpreter start and every import; one test still runs the
installed executable (test_operator_cli.py).
"""

from __future__ import annotations

import os
import sys

import msgspec
import pytest

from delivery.cli.main import main

__all__ = ["Cli", "Ran"]


class Ran(msgspec.Struct, frozen=True):
    code: int
    out: str
    err: str


class Cli:
    """Call with the arguments after `promptpix`; `env` sets variables for the calls that follow."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self._monkeypatch = monkeypatch
        self._capsys = capsys
        monkeypatch.setenv("PROMPTPIX_LOG_LEVEL", "WARNING")

    def env(self, clean: bool = False, **values: str) -> None:
        """Set variables; `clean` first drops every PROMPTPIX_* and GEMINI_API_KEY the run inherited."""
        if clean:
            for name in [n for n in os.environ if n.startswith("PROMPTPIX_") or n == "GEMINI_API_KEY"]:
                self._monkeypatch.delenv(name)
            self._monkeypatch.setenv("PROMPTPIX_LOG_LEVEL", "WARNING")
        for name, value in values.items():
            self._monkeypatch.setenv(name, value)

    def __call__(self, *args: str) -> Ran:
        self._capsys.readouterr()  # what earlier calls printed is theirs
        try:
            code = main(list(args))
        except SystemExit as exit_:  # refusals and usage errors exit; the interpreter would print a message and exit 1
            if isinstance(exit_.code, str):
                print(exit_.code, file=sys.stderr)
            code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        captured = self._capsys.readouterr()
        return Ran(code, captured.out, captured.err)

