"""One typed settings Struct, read once from the environment and validated at start-up.

Names follow DESIGN.md §6: `PROMPTPIX_<FIELD>` for every field, plus the
conventional `GEMINI_API_KEY`, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

__all__ = ["Settings", "SettingsError"]

_UNPREFIXED = {
    "gemini_api_key": "GEMINI_API_KEY",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
}


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
    public_url: str | None = None
    """Base of the URLs the service prints and returns; None is http://host:port."""
    log_level: str = "INFO"
    log_requests: bool = True

    # Limits: every one has a safe default and can be tightened per deployment.
    max_prompt_chars: int = 2000
    max_output_pixels: int = 40_000_000
    max_source_pixels: int = 100_000_000
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_frames: int = 1000
    """Frames (GIF/WebP/HEIF pages) a master may declare; only the first is ever served."""
    generation_timeout: float = 120.0
    transform_threads: int = 0
    """Worker threads for pyvips; 0 means one per core."""
    transform_queue: int = 32
    """Transforms that may wait for a thread, per process; past it requests get 503 + Retry-After."""
    vips_concurrency: int = 1
    """Threads libvips uses inside one transform; the pool already runs one transform per thread."""
    variant_cache_bytes: int = 256 * 1024 * 1024
    db_pool_size: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        for field in msgspec.structs.fields(cls):
            name = _UNPREFIXED.get(field.name, f"PROMPTPIX_{field.name.upper()}")
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
        if self.transform_queue < 0 or self.transform_threads < 0 or self.vips_concurrency < 0:
            raise SettingsError("PROMPTPIX_TRANSFORM_QUEUE, _TRANSFORM_THREADS and _VIPS_CONCURRENCY must not be negative")
        storage = self.resolved_storage_url
        if not storage.startswith(("file://", "s3://")):
            raise SettingsError("PROMPTPIX_STORAGE_URL must start with file:// or s3://")

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
    def thread_count(self) -> int:
        return self.transform_threads or os.cpu_count() or 2
