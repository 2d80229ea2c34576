"""The signed string, secret derivation, link shape rules and origin patterns, without a server."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from delivery.access.links import origin_allowed
from delivery.access.signing import Keyring, canonical_string, check_signed_shape, load_master_secret, matches, sign_pairs
from delivery.app import create_app
from delivery.errors import RepeatedParam, UnsortedParams
from delivery.settings import Settings, SettingsError

STRONG = "q8Zr1v-5hYxNwB2kLmT4pQe7sD9uFjAa0cVbXgHi3oK"


def test_the_canonical_string_is_sorted_encoded_and_excludes_sig() -> None:
    pairs = [("w", "400"), ("prompt", "a fox & a hen"), ("key", "pk_x"), ("sig", "zzz")]
    assert canonical_string("/g/acme", pairs) == b"/g/acme?key=pk_x&prompt=a%20fox%20%26%20a%20hen&w=400"


def test_a_signature_covers_every_name_and_value() -> None:
    secret, path = b"s" * 32, "/g/acme"
    pairs = [("key", "pk_x"), ("prompt", "fox"), ("w", "400")]
    query = sign_pairs(secret, path, pairs)
    sig = query.rsplit("sig=", 1)[1]
    assert "=" not in sig and len(sig) == 43  # base64url, 256 bits, no padding
    assert matches(secret, path, pairs, sig)
    assert not matches(secret, "/g/other", pairs, sig)
    assert not matches(secret, path, [("key", "pk_y"), *pairs[1:]], sig)
    assert not matches(secret, path, [*pairs, ("h", "1")], sig)
    assert not matches(b"t" * 32, path, pairs, sig)
    # "prompt=a&w=1" must not collide with "prompt=a%26w%3D1": separators are encoded
    assert canonical_string(path, [("prompt", "a&w=1")]) != canonical_string(path, [("prompt", "a"), ("w", "1")])


@pytest.mark.parametrize(
    ("pairs", "ok"),
    [
        ([("key", "k"), ("prompt", "p"), ("sig", "s")], True),
        ([("sig", "s"), ("key", "k"), ("prompt", "p")], True),
        ([("prompt", "p"), ("key", "k"), ("sig", "s")], False),
        ([("key", "k"), ("key", "k"), ("sig", "s")], False),
        ([("key", "k"), ("sig", "s"), ("sig", "s")], False),
    ],
)
def test_signed_links_have_one_spelling(pairs: list[tuple[str, str]], ok: bool) -> None:
    if ok:
        check_signed_shape(pairs)
    else:
        with pytest.raises((RepeatedParam, UnsortedParams), match=r"^a signed link( names a parameter more than once|'s parameters must be in the order)"):
            check_signed_shape(pairs)


def test_derived_secrets_depend_on_master_key_and_salt_and_never_print() -> None:
    ring = Keyring(b"m" * 48)
    base = ring.link_secret("pk_a", b"\x01" * 32)
    assert len(base) == 32
    assert base != Keyring(b"n" * 48).link_secret("pk_a", b"\x01" * 32)
    assert base != ring.link_secret("pk_b", b"\x01" * 32)
    assert base != ring.link_secret("pk_a", b"\x02" * 32)
    assert "m" * 8 not in repr(ring)


def test_the_development_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    first = load_master_secret(settings)
    assert len(first) >= 32 and load_master_secret(settings) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600
    assert load_master_secret(Settings(data_dir=str(tmp_path), secret_key=STRONG)) == STRONG.encode()


@pytest.mark.parametrize(
    "secret",
    [None, "", "short", "change-me-to-a-long-random-string-0123456789", "a" * 64, "ab" * 32],
)
def test_production_refuses_missing_default_or_weak_secrets(secret: str | None) -> None:
    env = {"PROMPTPIX_ENV": "production"} | ({"PROMPTPIX_SECRET_KEY": secret} if secret is not None else {})
    with pytest.raises(SettingsError, match="PROMPTPIX_SECRET_KEY"):
        Settings.from_env(env)


def test_production_starts_with_a_strong_secret_and_create_app_checks_settings_built_in_code() -> None:
    assert Settings.from_env({"PROMPTPIX_ENV": "production", "PROMPTPIX_SECRET_KEY": STRONG, "PROMPTPIX_GENERATOR": "offline", "PROMPTPIX_DATABASE_URL": "postgresql://u:Tz4mQ8vR2kLp9XwN7cYb@db/p"}).production
    with pytest.raises(SettingsError, match=r"^PROMPTPIX_ENV=production needs PROMPTPIX_SECRET_KEY"):
        create_app(Settings(env="production", secret_key="changeme"))


@pytest.mark.parametrize(
    ("allowed", "origin", "referer", "ok"),
    [
        (["*"], None, None, True),
        (["https://a.example"], "https://a.example", None, True),
        (["https://a.example/"], "https://A.example", None, True),
        (["https://a.example"], None, "https://a.example/x?y", True),
        (["https://a.example"], "null", "https://a.example/", True),
        (["https://a.example"], "https://b.example", "https://a.example/", False),
        (["https://a.example"], None, "not a url", False),
        (["https://*.example.com"], "https://x.y.example.com", None, True),
        (["https://*.example.com"], "https://example.com", None, False),
        (["https://*.example.com"], "http://x.example.com", None, False),
        (["https://*.example.com"], "https://xexample.com", None, False),
        ([], "https://a.example", None, False),
    ],
)
def test_origin_patterns(allowed: list[str], origin: str | None, referer: str | None, ok: bool) -> None:
    assert origin_allowed(allowed, origin=origin, referer=referer) is ok


def test_processes_starting_together_agree_on_one_development_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "fresh"))
    with ThreadPoolExecutor(8) as pool:
        secrets_ = set(pool.map(lambda _: load_master_secret(settings), range(16)))
    assert len(secrets_) == 1
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == ["secret_key"]
