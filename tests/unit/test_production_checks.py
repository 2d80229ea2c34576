"""Production refuses template values, weak secrets, the embedded database and passwordless database URLs."""

from __future__ import annotations

import re
import secrets

import pytest

from delivery.settings import Settings, SettingsError, estimated_bits
from harness.processes import REPO

STRONG_SECRET = "q8Zr1v-5hYxNwB2kLmT4pQe7sD9uFjAa0cVbXgHi3oK"
STRONG_PASSWORD = "Tz4mQ8vR2kLp9XwN7cYb"
PRODUCTION = {
    "PROMPTPIX_ENV": "production",
    "PROMPTPIX_SECRET_KEY": STRONG_SECRET,
    "PROMPTPIX_GENERATOR": "offline",
    "PROMPTPIX_DATABASE_URL": f"postgresql://promptpix:{STRONG_PASSWORD}@db:5432/promptpix",
}


def template_values() -> dict[str, str]:
    """The values .env.example ships with (what an operator who copied it without editing would run)."""
    pairs = [line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)]
    return {name: value for name, value in pairs if value}


def refusal(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    return str(caught.value).splitlines()


def test_a_well_configured_production_starts() -> None:
    assert Settings.from_env(PRODUCTION).production
    assert Settings.from_env(PRODUCTION | {"AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(16)}).production


def test_production_refuses_the_template_database_password_and_minio_secret() -> None:
    template = template_values()
    password, minio = template["POSTGRES_PASSWORD"], template["AWS_SECRET_ACCESS_KEY"]
    lines = refusal(PRODUCTION | {"PROMPTPIX_DATABASE_URL": f"postgresql://promptpix:{password}@db/promptpix"})
    assert lines == [line for line in lines if "strong database password" in line] and len(lines) == 1
    [line] = refusal(PRODUCTION | {"AWS_SECRET_ACCESS_KEY": minio})
    assert line.startswith("PROMPTPIX_ENV=production needs a strong AWS_SECRET_ACCESS_KEY")
    assert Settings.from_env({"AWS_SECRET_ACCESS_KEY": minio, "PROMPTPIX_DATABASE_URL": f"postgresql://u:{password}@db/p"})  # development


@pytest.mark.parametrize(
    "secret",
    ["0123456789abcdef" * 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "aB3$" * 12, "ab" * 32],
)
def test_production_refuses_low_entropy_secrets_of_any_length(secret: str) -> None:
    assert len(secret) >= 32 and len(set(secret)) >= 2
    lines = refusal(PRODUCTION | {"PROMPTPIX_SECRET_KEY": secret})
    assert lines[0].startswith("PROMPTPIX_ENV=production needs PROMPTPIX_SECRET_KEY"), lines
    assert estimated_bits(secret) < 96


def test_random_secrets_of_the_suggested_lengths_always_pass() -> None:
    for _ in range(500):
        assert Settings.from_env(PRODUCTION | {"PROMPTPIX_SECRET_KEY": secrets.token_urlsafe(48)}).production
        assert Settings.from_env(PRODUCTION | {"PROMPTPIX_SECRET_KEY": secrets.token_hex(16)}).production
        assert Settings.from_env(PRODUCTION | {"AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(16)}).production


def test_production_refuses_embedded_postgres_and_passwordless_urls_one_line_each() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "PROMPTPIX_DATABASE_URL"}
    assert refusal(env) == ["PROMPTPIX_ENV=production needs PROMPTPIX_DATABASE_URL: an external PostgreSQL, not the embedded one"]
    for url in ("postgresql://promptpix@db/promptpix", "postgresql://db/promptpix", "postgresql:///promptpix?host=/run/postgresql"):
        assert refusal(PRODUCTION | {"PROMPTPIX_DATABASE_URL": url}) == [
            "PROMPTPIX_ENV=production needs a password in PROMPTPIX_DATABASE_URL (postgresql://user:password@host/db)"
        ]
    query_password = f"postgresql://promptpix@db/promptpix?password={STRONG_PASSWORD}"
    assert Settings.from_env(PRODUCTION | {"PROMPTPIX_DATABASE_URL": query_password}).production
    short = refusal(PRODUCTION | {"PROMPTPIX_DATABASE_URL": "postgresql://promptpix:hunter2@db/promptpix"})
    assert len(short) == 1 and "strong database password" in short[0]


def test_every_broken_rule_is_its_own_line() -> None:
    lines = refusal({"PROMPTPIX_ENV": "production", "PROMPTPIX_SECRET_KEY": "change-me", "AWS_SECRET_ACCESS_KEY": "minio123"})
    assert len(lines) == 4, lines  # the secret, embedded PostgreSQL, the S3 secret, no real generator
    assert all(line.startswith("PROMPTPIX_ENV=production needs") for line in lines)
