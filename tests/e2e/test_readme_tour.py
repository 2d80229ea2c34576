"""README's tour pasted as written, into bash and into zsh, against `promptpix serve` started as `make run` starts it.

Each shell reads the tour's commands on stdin as an interactive shell does when
they are pasted (zsh without `interactivecomments`, bash 5.2 with its
`patsub_replacement`), so a comment, an unquoted `&` or a `${URL/…/…&…}` that
breaks for a person breaks here too. After every command the test has the
shell print a marker with its exit status, then checks each command's output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import REPO, find_program, free_port, start_serve
from tests.conftest import require
from tests.images import decode

README = REPO / "README.md"
DOCUMENTED_BASE = "http://127.0.0.1:8080"
KEY_PLACEHOLDER = "pk_…"
MARKER = "::tour-step"


def tour_blocks() -> list[tuple[str, str]]:
    """(language, body) of each fenced block of the tour section, in order."""
    text = README.read_text()
    section = text[text.index("## A 60-second tour") :]
    section = section[: section.index("\n## ", 1)]
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", section, re.S | re.M)]


def test_the_tour_is_commands_a_shell_takes_as_pasted() -> None:
    """No comments (interactive zsh runs `#` as a command) and no prompts or output lines in the command blocks."""
    shell_blocks = [body for lang, body in tour_blocks() if lang == "sh"]
    assert shell_blocks[0].strip() == "make run"
    for body in shell_blocks:
        for line in body.splitlines():
            assert "#" not in line and not line.startswith(("$ ", "% ")), line


def test_the_cli_is_where_the_readme_says() -> None:
    assert "`.venv/bin/promptpix`" in README.read_text()
    venv_cli = REPO / ".venv" / "bin" / "promptpix"
    require(venv_cli.exists(), ".venv/bin/promptpix (make run, make test)")
    shown = subprocess.run([str(venv_cli), "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "serve" in shown.stdout and "keys" in shown.stdout


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Outside pytest's basetemp, as in test_run_command.py: the embedded PostgreSQL keeps its data here."""
    parent = Path(tempfile.mkdtemp(prefix="promptpix-tour-"))
    yield parent / "data"
    shutil.rmtree(parent, ignore_errors=True)


def shell_command(shell: str) -> list[str]:
    program = find_program(shell, f"/usr/bin/{shell}", f"/bin/{shell}")
    require(program is not None, f"{shell} (Debian package; scripts/test-deps.sh installs it)")
    assert program is not None
    if shell == "zsh":
        return [program, "-f", "-i", "-s"]  # -f: no startup files, the options a fresh interactive zsh has
    return [program, "--norc", "--noprofile", "-i", "-s"]


def run_pasted(shell: str, commands: list[str], cwd: Path) -> list[tuple[int, str]]:
    """(exit status, stdout) of each command, typed into one interactive shell."""
    script = "".join(f"{command}\necho \"{MARKER} $?\"\n" for command in commands) + "exit\n"
    done = subprocess.run(shell_command(shell), input=script, capture_output=True, text=True, cwd=cwd, timeout=300)
    outputs = re.split(rf"{MARKER} (\d+)\n", done.stdout)
    steps = [(int(outputs[i + 1]), outputs[i]) for i in range(0, len(outputs) - 1, 2)]
    assert len(steps) == len(commands), f"{shell} ran {len(steps)} of {len(commands)} commands: {done.stdout}\n{done.stderr}"
    return steps


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_the_tour_pasted_works(shell: str, data_dir: Path, tmp_path: Path) -> None:
    blocks = tour_blocks()
    banner = next(body for lang, body in blocks if lang == "text")
    commands = [body for lang, body in blocks if lang == "sh"][1].splitlines()
    shell_command(shell)

    port = free_port()
    served = start_serve(data_dir=data_dir, database_url=None, port=port)
    try:
        base = f"http://127.0.0.1:{port}"
        key_line = next(line for line in served.lines if line.startswith("key for links (key=): "))
        key = key_line.rsplit(" ", 1)[1]
        assert re.fullmatch(r"pk_[a-z2-7]{16}", key), key  # the id `key=` takes, not a full pp_pk_… key
        assert not any("pp_pk_" in line or "pp_sk_" in line for line in served.lines)
        # What the README shows of the banner is what it prints, `…` standing for what differs per machine.
        for shown in banner.splitlines():
            here = shown.replace(DOCUMENTED_BASE, base).replace("…/.promptpix", str(data_dir))  # the default data dir
            pattern = re.escape(here).replace(re.escape("…"), ".*")
            assert any(re.fullmatch(pattern, line) for line in served.lines), (shown, served.lines)

        pasted = [c.replace(KEY_PLACEHOLDER, key).replace(DOCUMENTED_BASE, base) for c in commands]
        steps = run_pasted(shell, pasted, tmp_path)
    finally:
        served.stop()

    assert [rc for rc, _ in steps] == [0] * len(steps), steps
    (_, key_out), (_, url_out), (_, first), (_, second), (_, square), (_, metadata) = steps
    assert key_out == url_out == ""
    assert first.strip().lower() == "x-cache-status: generated"
    assert second.strip().lower() == "x-cache-status: hit"
    assert square.strip() == "200 image/avif"
    fox, fox_format = decode((tmp_path / "fox.webp").read_bytes())
    assert (fox.width, fox.height, fox_format) == (800, 450, "webp")
    crop, crop_format = decode((tmp_path / "square.avif").read_bytes())
    assert (crop.width, crop.height, crop_format) == (300, 300, "avif")
    # The same fox: the 16:9 root extended to 1:1, so its pixels run across the square's middle at full width.
    fox_at_300 = fox.resize(300 / fox.width)[0:3]
    inset, top = 4, (300 - fox_at_300.height) // 2
    band = fox_at_300.crop(inset, inset, 300 - 2 * inset, fox_at_300.height - 2 * inset)
    best = min((crop[0:3].crop(inset, top + dy + inset, band.width, band.height) - band).abs().avg() for dy in range(-2, 3))
    assert best < 12, best
    described = json.loads(metadata)
    assert described["PixelWidth"] > described["PixelHeight"] and described["promptpix"]["source"] == "generated"
