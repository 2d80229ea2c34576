#!/usr/bin/env bash
# Installs the given pip requirements (`-e .`, `-e '.[test]'`, …) into .venv, a line per step.
# uv does in seconds what pip takes a minute or more for on a fresh machine, so uv installs:
# the one on PATH, else one pip fetches from PyPI into the venv; pip installs when uv cannot.
# `make run`, `make test` and `make bench` all install through here.
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
started=$EPOCHREALTIME

say() { printf '==> %s\n' "$*"; }
since() {  # seconds since $1, an $EPOCHREALTIME (microseconds after its decimal point, whichever the locale uses)
    local now=$EPOCHREALTIME us
    us=$(( 10#${now//[.,]/} - 10#${1//[.,]/} ))
    printf '%d.%d s' $((us / 1000000)) $((us / 100000 % 10))
}

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi

uv=$(command -v uv || true)
if [ -z "$uv" ] && [ -x "$VENV/bin/uv" ]; then
    uv=$VENV/bin/uv
fi
if [ -z "$uv" ]; then
    say "installing uv (the installer) from PyPI into $VENV"
    if "$VENV/bin/pip" install --quiet --disable-pip-version-check uv; then
        uv=$VENV/bin/uv
    else
        say "uv could not be installed; pip installs instead"
    fi
fi

step=$EPOCHREALTIME
if [ -n "$uv" ]; then
    say "installing $* and its dependencies with uv"
    if "$uv" pip install --python "$VENV/bin/python" "$@"; then
        say "installed in $(since "$step") (all steps $(since "$started"))"
        exit 0
    fi
    say "uv failed; installing with pip instead"
    step=$EPOCHREALTIME
fi
say "installing $* and its dependencies with pip (a minute or more on a fresh machine)"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$@"
say "installed in $(since "$step") (all steps $(since "$started"))"
