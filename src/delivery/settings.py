"""One typed settings Struct, read once from the environment and validated at start-up.

Names are `PROMPTPIX_<FIELD>` for every field (docs/design.md §8), plus the
conventional `GEMINI_API_KEY`, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from generation import PipelineSettings

__all__ = ["MIN_SECRET_CHARS", "Settings", "SettingsError"]

_UNPREFIXED = {
    "gemini_api_key": "GEMINI_API_KEY",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
}


MIN_SECRET_CHARS = 32
PLACEHOLDER_MARKS = ("changeme", "change-me", "change_me", "example", "default")
"""Secrets containing these are copied from a template, not generated."""


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the service refuses to start."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "./.promptpix"
    database_url: str | None = None
    """External PostgreSQL; None starts the embedded server in the data dir."""
    storage_url: str | None = None
    """`file:///path` or `s3://bucket`; None is `file://<data_dir>/objects`."""
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    generator: Literal["auto", "offline", "gemini"] = "auto"
    gemini_api_key: str | None = None
    gemini_base_url: str | None = None
    gemini_image_model: str = "gemini-2.5-flash-image"
    gemini_text_model: str = "gemini-2.5-flash"
    """Enhancement and analysis (vision) model."""
    gemini_price_per_image: float = 0.039
    gemini_price_per_million_input_tokens: float = 0.30
    gemini_price_per_million_output_tokens: float = 2.50
    """Prices in credits; defaults are Google's list prices in USD."""
    public_url: str | None = None
    """Base of the URLs the service prints and returns; None is http://host:port."""
    log_level: str = "INFO"
    log_requests: bool = True
    env: Literal["development", "production"] = "development"
    """`production` refuses unsafe settings at start-up and creates no demo tenancy."""
    secret_key: str | None = None
    """Server master secret that link-signing secrets are derived from; in development a
    random one is generated once and kept in `<data_dir>/secret_key`."""

    # Billing and abuse limits (docs/security.md).
    generation_price: int = 1
    """Credits one generation costs, reserved before the provider call."""
    free_monthly_allowance: int = 100
    """Generations a new `free` organisation may make per calendar month (UTC)."""
    key_misses_per_minute: int = 60
    """Cache misses (generations) one key may start per minute, unless the key sets its own."""
    ip_misses_per_minute: int = 20
    """Cache misses one client IP may start per minute through unsigned links."""

    # Limits: every one has a safe default and can be tightened per deployment.
    max_prompt_chars: int = 2000
    max_output_pixels: int = 40_000_000
    max_source_pixels: int = 100_000_000
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_frames: int = 1000
    """Frames (GIF/WebP/HEIF pages) a master may declare; only the first is ever served."""
    generation_timeout: float = 120.0
    """Seconds one synthesis attempt may take."""
    enhance_timeout: float = 20.0
    analyze_timeout: float = 20.0
    generation_attempts: int = 3
    """Tries per generation stage on retryable failures (429, 5xx, timeouts); 1 disables retries."""
    generation_backoff: float = 0.5
    """First retry delay in seconds, doubled per attempt."""
    generation_max_retry_wait: float = 10.0
    """Longest provider Retry-After to wait through; longer ones are passed on to the client."""
    transform_threads: int = 0
    """Worker threads for pyvips; 0 means one per core."""
    transform_queue: int = 32
    """Transforms that may wait for a thread, per process; past it requests get 503 + Retry-After."""
    vips_concurrency: int = 1
    """Threads libvips uses inside one transform; the pool already runs one transform per thread."""
    variant_cache_bytes: int = 256 * 1024 * 1024
    master_cache_bytes: int = 64 * 1024 * 1024
    """Masters kept in memory per process after a transform (with their checked header); 0 turns it off."""
    db_pool_size: int = 10
    max_references: int = 8
    """Most `@name` reference images one prompt may use."""

    idempotency_ttl: float = 86_400.0
    """Seconds an `Idempotency-Key` and its first response are kept for replay (docs/api.md)."""
    idempotency_lease: float = 600.0
    """Seconds a first request holds its `Idempotency-Key` before a retry may assume its process
    died and run it again; longer than any request can take (a generation with its retries)."""
    api_page_size: int = 50
    """Items per page of `/v1` lists when the request names no `limit` (at most 200)."""

    # Repair (write order, docs/design.md §7): see docs/assets.md.
    sweep_interval: float = 3600.0
    """Seconds between the periodic sweeps each process runs; 0 turns the periodic sweep off."""
    sweep_grace: float = 3600.0
    """An object no row references is removed only once it is older than this many seconds."""
    sweep_pending_after: float = 900.0
    """A generation still pending this many seconds after it started, held by no process, has failed."""

    # Scale-out (docs/deploy.md).
    workers: int = 1
    """App processes `serve` starts on one port; the parent starts embedded PostgreSQL once for all."""
    shutdown_timeout: float = 150.0
    """Seconds a stopping worker lets in-flight requests (a generation included) finish."""
    claim_timeout: float = 150.0
    """Seconds a request waits for another process's generation of the same key before a 503."""
    offline_delay: float = 0.0
    """Seconds the offline generator sleeps before drawing: dev and tests of concurrent misses."""

    @classmethod
    def env_names(cls) -> list[str]:
        """Every variable the service reads, in field order; `.env.example` must list them all."""
        return [_UNPREFIXED.get(field.name, f"PROMPTPIX_{field.name.upper()}") for field in msgspec.structs.fields(cls)]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        for field, name in zip(msgspec.structs.fields(cls), cls.env_names(), strict=True):
            value = environ.get(name)
            if value is not None and value != "":
                raw[field.name] = value
        try:
            settings = msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"invalid setting: {exc}") from exc
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise SettingsError("PROMPTPIX_PORT must be between 1 and 65535")
        if self.generator == "gemini" and not self.gemini_api_key:
            raise SettingsError("PROMPTPIX_GENERATOR=gemini needs GEMINI_API_KEY")
        for name in ("max_prompt_chars", "max_output_pixels", "max_source_pixels", "max_source_bytes", "max_source_frames"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"PROMPTPIX_{name.upper()} must be positive")
        if self.workers < 1:
            raise SettingsError("PROMPTPIX_WORKERS must be at least 1")
        for name in ("generation_timeout", "enhance_timeout", "analyze_timeout"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"PROMPTPIX_{name.upper()} must be positive")
        if self.generation_attempts < 1:
            raise SettingsError("PROMPTPIX_GENERATION_ATTEMPTS must be at least 1")
        prices = ("gemini_price_per_image", "gemini_price_per_million_input_tokens", "gemini_price_per_million_output_tokens")
        for name in (*prices, "generation_backoff", "generation_max_retry_wait", "shutdown_timeout", "claim_timeout", "offline_delay", "master_cache_bytes"):
            if getattr(self, name) < 0:
                raise SettingsError(f"PROMPTPIX_{name.upper()} must not be negative")
        if self.transform_queue < 0 or self.transform_threads < 0 or self.vips_concurrency < 0:
            raise SettingsError("PROMPTPIX_TRANSFORM_QUEUE, _TRANSFORM_THREADS and _VIPS_CONCURRENCY must not be negative")
        storage = self.resolved_storage_url
        if not storage.startswith(("file://", "s3://")):
            raise SettingsError("PROMPTPIX_STORAGE_URL must start with file:// or s3://")
        if storage.startswith("s3://") and not urlsplit(storage).netloc:
            raise SettingsError("PROMPTPIX_STORAGE_URL must name a bucket: s3://bucket[/prefix]")
        for name in ("sweep_interval", "sweep_grace", "sweep_pending_after"):
            if getattr(self, name) < 0:
                raise SettingsError(f"PROMPTPIX_{name.upper()} must not be negative")
        if not 1 <= self.api_page_size <= 200:
            raise SettingsError("PROMPTPIX_API_PAGE_SIZE must be from 1 to 200")
        if self.max_references < 0:
            raise SettingsError("PROMPTPIX_MAX_REFERENCES must not be negative")
        for name in ("generation_price", "key_misses_per_minute", "ip_misses_per_minute", "idempotency_ttl", "idempotency_lease"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"PROMPTPIX_{name.upper()} must be positive")
        if self.production:
            self._validate_production()

    def _validate_production(self) -> None:
        """Secrets that are missing, short or well known would let anyone sign links."""
        secret = self.secret_key or ""
        placeholder = any(mark in secret.lower() for mark in PLACEHOLDER_MARKS)
        if len(secret) < MIN_SECRET_CHARS or placeholder or len(set(secret)) < 16:
            raise SettingsError(
                f"PROMPTPIX_ENV=production needs PROMPTPIX_SECRET_KEY: at least {MIN_SECRET_CHARS} random characters"
                " (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{self.data_path / 'objects'}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def generator_name(self) -> Literal["offline", "gemini"]:
        if self.generator == "auto":
            return "gemini" if self.gemini_api_key else "offline"
        return self.generator

    @property
    def pipeline(self) -> PipelineSettings:
        return PipelineSettings(
            enhance_timeout=self.enhance_timeout,
            synthesize_timeout=self.generation_timeout,
            analyze_timeout=self.analyze_timeout,
            attempts=self.generation_attempts,
            backoff=self.generation_backoff,
            max_retry_wait=self.generation_max_retry_wait,
        )

    @property
    def thread_count(self) -> int:
        return self.transform_threads or os.cpu_count() or 2
