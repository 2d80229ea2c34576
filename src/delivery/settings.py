"""One typed settings Struct, read once from the environment and validated at start-up.

Every field is the variable `PROMPTPIX_<FIELD>`, except the conventional
`GEMINI_API_KEY`, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. The Struct
renames its fields to those names, so msgspec converts the environment itself
and its refusals name the variable.

A field's `Meta` is its whole contract: its range or choices, and the
description that `promptpix settings` turns into `docs/settings.md` and
`.env.example` (`make settings-docs`). `extra={"group": …}` sorts the reference
into sections. What a Meta cannot say (one field depending on another, secret
strength) is a `Rule`, listed in `RULES` and in the same reference.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import msgspec
import msgspec.inspect
from msgspec import Meta

from generation import PipelineSettings

__all__ = ["MIN_SECRET_CHARS", "RULES", "FieldDoc", "Rule", "SearchLanguage", "Settings", "SettingsError", "env_name", "env_value", "reference"]

_UNPREFIXED = {
    "gemini_api_key": "GEMINI_API_KEY",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "replicate_api_token": "REPLICATE_API_TOKEN",
}


def env_name(field: str) -> str:
    """The environment variable a field is read from."""
    return _UNPREFIXED.get(field, f"PROMPTPIX_{field.upper()}")


MIN_SECRET_CHARS = 32
MIN_SECRET_BITS = 80
"""Estimated bits (`estimated_bits`) a production master secret needs: 32 random hex characters score 92–125
(200,000 draws), runs and repeats of that length 70 or less."""
MIN_PASSWORD_CHARS = 16
MIN_PASSWORD_BITS = 64
"""The database password and S3 secret in production: `secrets.token_urlsafe(16)` (22 characters) scores 71 or
more (100,000 draws); the estimate tops out at 4 bits a character below 17 characters, so 16 never pass."""
PLACEHOLDER_MARKS = ("changeme", "change-me", "change_me", "example", "default")
"""Secrets containing these are copied from a template, not generated."""


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the service refuses to start."""


# Sections of docs/settings.md and .env.example; a section lists its fields in Struct order.
_SERVER: dict[str, Any] = {"group": "Server"}
_STORAGE: dict[str, Any] = {"group": "Database and object storage"}
_GENERATION: dict[str, Any] = {"group": "Generation"}
_LIMITS: dict[str, Any] = {"group": "Request and image limits"}
_TRANSFORMS: dict[str, Any] = {"group": "Transforms and caches"}
_SECURITY: dict[str, Any] = {"group": "Security and billing (docs/security.md)"}
_API: dict[str, Any] = {"group": "REST API (docs/api.md)"}
_REPAIR: dict[str, Any] = {"group": "Assets and repair (docs/assets.md)"}
_CONSOLE: dict[str, Any] = {"group": "Web console (docs/console.md)"}
_PROCESSES: dict[str, Any] = {"group": "Processes (docs/deploy.md)"}
_LOGS: dict[str, Any] = {"group": "Logs"}
_SAFETY: dict[str, Any] = {"group": "Prompt safety (docs/generation.md)"}
_EDGE: dict[str, Any] = {"group": "Edge purge (docs/deploy.md)"}
_JOBS: dict[str, Any] = {"group": "Jobs, workers and webhooks (docs/api.md, docs/deploy.md)"}

SearchLanguage = Literal[
    "simple", "danish", "dutch", "english", "finnish", "french", "german", "hungarian",
    "italian", "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish", "turkish",
]  # fmt: skip
"""PostgreSQL's built-in text search configurations."""

_Seconds = Annotated[float, Meta(ge=0)]
_PositiveSeconds = Annotated[float, Meta(gt=0)]
_Credits = Annotated[float, Meta(ge=0)]


class Settings(msgspec.Struct, frozen=True, kw_only=True, rename=env_name):
    # Server
    host: Annotated[str, Meta(description="Interface `serve` listens on; `0.0.0.0` for every interface.", extra=_SERVER)] = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535, description="TCP port `serve` listens on.", extra=_SERVER)] = 8080
    data_dir: Annotated[str, Meta(description="Directory of the embedded database, local object storage and the development secret.", extra=_SERVER)] = (
        "./.promptpix"
    )
    public_url: Annotated[
        str | None,
        Meta(
            description="Base of the URLs the service prints and returns (the public hostname behind nginx or a CDN); unset is `http://HOST:PORT`.",
            extra=_SERVER,
        ),
    ] = None

    # Database and object storage
    database_url: Annotated[
        str | None,
        Meta(
            description="External PostgreSQL (`postgresql://user:pass@host:5432/db`); unset starts the embedded server in the data directory.",
            extra=_STORAGE,
        ),
    ] = None
    db_pool_size: Annotated[int, Meta(ge=1, description="Database connections each app process keeps open.", extra=_STORAGE)] = 10
    storage_url: Annotated[
        Annotated[str, Meta(pattern="^(file|s3)://")] | None,
        Meta(
            description="Where masters are stored: `file:///path` or `s3://bucket[/prefix]` (MinIO, R2, S3, SeaweedFS); unset is `file://$PROMPTPIX_DATA_DIR/objects`.",
            extra=_STORAGE,
        ),
    ] = None
    s3_endpoint: Annotated[str | None, Meta(description="Endpoint of an S3-compatible store; unset is AWS S3.", extra=_STORAGE)] = None
    s3_region: Annotated[str, Meta(description="S3 region.", extra=_STORAGE)] = "us-east-1"
    aws_access_key_id: Annotated[
        str | None, Meta(description="S3 access key; docker compose also makes it MinIO's root user.", extra=_STORAGE)
    ] = None
    aws_secret_access_key: Annotated[
        str | None, Meta(description="S3 secret key; docker compose also makes it MinIO's root password.", extra=_STORAGE)
    ] = None

    # Generation
    generator: Annotated[
        Literal["auto", "offline", "gemini", "replicate"],
        Meta(
            description="`offline` draws placeholders locally, `gemini` calls Google, `replicate` calls Replicate;"
            " `auto` is gemini when `GEMINI_API_KEY` is set, else replicate when `REPLICATE_API_TOKEN` is set, else offline"
            " (refused in production: placeholders there need `offline` set explicitly).",
            extra=_GENERATION,
        ),
    ] = "auto"
    gemini_api_key: Annotated[str | None, Meta(description="Google API key of the gemini generator.", extra=_GENERATION)] = None
    gemini_base_url: Annotated[str | None, Meta(description="Base URL of the Gemini API; unset is Google's.", extra=_GENERATION)] = None
    gemini_image_model: Annotated[str, Meta(description="Image model, pinned by full name.", extra=_GENERATION)] = "gemini-2.5-flash-image"
    gemini_text_model: Annotated[str, Meta(description="Prompt enhancement and image analysis (vision) model, pinned by full name.", extra=_GENERATION)] = (
        "gemini-2.5-flash"
    )
    upload_analysis: Annotated[
        Literal["provider", "offline"],
        Meta(
            description="`provider` asks the generator's vision model (when it is not offline) for an upload's alt text, tags and focal point,"
            " as for a generated image; `offline` uses libvips attention alone (no words).",
            extra=_GENERATION,
        ),
    ] = "provider"
    gemini_price_per_image: Annotated[
        _Credits, Meta(description="Credits one generated image costs in the usage figures (docs/generation.md); Google's list price in USD.", extra=_GENERATION)
    ] = 0.039
    gemini_price_per_million_input_tokens: Annotated[
        _Credits, Meta(description="Credits per million text-model input tokens; Google's list price in USD.", extra=_GENERATION)
    ] = 0.30
    gemini_price_per_million_output_tokens: Annotated[
        _Credits, Meta(description="Credits per million text-model output tokens; Google's list price in USD.", extra=_GENERATION)
    ] = 2.50
    replicate_api_token: Annotated[str | None, Meta(description="API token of the replicate generator.", extra=_GENERATION)] = None
    replicate_base_url: Annotated[str | None, Meta(description="Base URL of the Replicate API; unset is Replicate's.", extra=_GENERATION)] = None
    replicate_model: Annotated[
        str,
        Meta(
            description="Replicate image model: `owner/name:version` pins a version, `owner/name` runs an official model's current version.",
            extra=_GENERATION,
        ),
    ] = "black-forest-labs/flux-schnell"
    replicate_price_per_image: Annotated[
        _Credits, Meta(description="Credits one Replicate image costs in the usage figures; the model's list price in USD.", extra=_GENERATION)
    ] = 0.003
    replicate_price_per_second: Annotated[
        _Credits, Meta(description="Credits per second of prediction time, for models Replicate bills by time (added to the per-image price).", extra=_GENERATION)
    ] = 0.0
    replicate_max_output_bytes: Annotated[
        int, Meta(ge=1, description="Largest Replicate output downloaded, in bytes; a larger one fails the attempt.", extra=_GENERATION)
    ] = 20 * 1024 * 1024
    replicate_download_timeout: Annotated[_PositiveSeconds, Meta(description="Seconds downloading one Replicate output may take.", extra=_GENERATION)] = 30.0
    replicate_poll_interval: Annotated[
        _PositiveSeconds, Meta(description="Seconds between polls of a Replicate prediction that is still running.", extra=_GENERATION)
    ] = 0.5
    breaker_threshold: Annotated[
        int, Meta(ge=1, description="Consecutive failed generations (after retries) that open a provider's circuit breaker.", extra=_GENERATION)
    ] = 5
    breaker_cooldown: Annotated[
        _PositiveSeconds, Meta(description="Seconds an open circuit refuses calls before one probe call is let through.", extra=_GENERATION)
    ] = 30.0
    generation_timeout: Annotated[_PositiveSeconds, Meta(description="Seconds one synthesis attempt may take.", extra=_GENERATION)] = 120.0
    enhance_timeout: Annotated[_PositiveSeconds, Meta(description="Seconds one prompt-enhancement attempt may take.", extra=_GENERATION)] = 20.0
    analyze_timeout: Annotated[_PositiveSeconds, Meta(description="Seconds one image-analysis attempt may take.", extra=_GENERATION)] = 20.0
    generation_attempts: Annotated[
        int, Meta(ge=1, description="Tries per generation stage on retryable failures (429, 5xx, timeouts); 1 disables retries.", extra=_GENERATION)
    ] = 3
    generation_backoff: Annotated[_Seconds, Meta(description="First retry delay in seconds, doubled per attempt.", extra=_GENERATION)] = 0.5
    generation_max_retry_wait: Annotated[
        _Seconds, Meta(description="Longest provider Retry-After, in seconds, to wait through; longer ones are passed on to the client.", extra=_GENERATION)
    ] = 10.0
    offline_delay: Annotated[
        _Seconds, Meta(description="Seconds the offline generator sleeps before drawing; for development and tests of concurrent misses.", extra=_GENERATION)
    ] = 0.0
    root_aspect: Annotated[
        Literal["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"],
        Meta(
            description="Aspect class a prompt's first master (its root) is drawn at when the URL gives no `ar` and neither the style"
            " nor the project names one; every other aspect of the prompt is cropped or extended from it.",
            extra=_GENERATION,
        ),
    ] = "4:3"
    min_crop_keep: Annotated[
        float,
        Meta(
            gt=0,
            le=1,
            description="Least fraction of the root's area a crop to another aspect may keep; below it the root is extended"
            " (outpainted) to the nearest aspect class instead.",
            extra=_GENERATION,
        ),
    ] = 0.7

    # Prompt safety: checked on a cache miss, before any reservation or provider call.
    prompt_blocklist: Annotated[
        str,
        Meta(
            description="Comma-separated words and phrases refused in every prompt (whole words, any case); projects add their own.",
            extra=_SAFETY,
        ),
    ] = ""
    prompt_allowlist: Annotated[
        str,
        Meta(description="Comma-separated phrases that never count as blocked, even when they contain a blocked word; projects add their own.", extra=_SAFETY),
    ] = ""
    max_project_prompt_terms: Annotated[
        int,
        Meta(
            ge=0,
            le=10_000,
            description="Most blocked, and most allowed, terms a project may set for itself (each is matched against every new prompt).",
            extra=_SAFETY,
        ),
    ] = 500
    moderation: Annotated[
        Literal["off", "gemini"],
        Meta(description="`gemini` asks a Gemini text model to classify each new prompt before any spend (needs `GEMINI_API_KEY`).", extra=_SAFETY),
    ] = "off"
    moderation_model: Annotated[str, Meta(description="Gemini model that classifies prompts.", extra=_SAFETY)] = "gemini-2.5-flash"
    moderation_timeout: Annotated[
        _PositiveSeconds, Meta(description="Seconds one moderation call may take; a failed call refuses the generation with a 503.", extra=_SAFETY)
    ] = 10.0

    # Request and image limits: every one has a safe default and can be tightened per deployment.
    max_prompt_chars: Annotated[int, Meta(ge=1, description="Longest prompt accepted, in characters.", extra=_LIMITS)] = 2000
    max_json_depth: Annotated[
        int, Meta(ge=2, le=1000, description="Deepest nesting of arrays and objects a JSON request body may have (deeper: 400).", extra=_LIMITS)
    ] = 32
    max_output_pixels: Annotated[
        int, Meta(ge=1, description="Largest output in pixels (width × height × dpr²); larger requests are shrunk to fit.", extra=_LIMITS)
    ] = 40_000_000
    max_source_pixels: Annotated[int, Meta(ge=1, description="Largest master accepted, in pixels.", extra=_LIMITS)] = 100_000_000
    max_source_bytes: Annotated[int, Meta(ge=1, description="Largest master accepted, in bytes; also bounds upload request bodies.", extra=_LIMITS)] = (
        50 * 1024 * 1024
    )
    max_source_frames: Annotated[
        int, Meta(ge=1, description="Frames (GIF/WebP/HEIF pages) a master may declare, checked from its header; only the first is ever served.", extra=_LIMITS)
    ] = 1000
    max_references: Annotated[int, Meta(ge=0, description="Most `@name` reference images one prompt may use.", extra=_LIMITS)] = 8
    reference_max_side: Annotated[
        int,
        Meta(
            ge=64,
            le=8192,
            description="Longest side, in pixels, a `@name` reference image is sent to the provider at (larger masters are downscaled first;"
            " the image models work at about 1024 px).",
            extra=_LIMITS,
        ),
    ] = 1024
    max_upscale: Annotated[
        float,
        Meta(
            ge=1,
            le=16,
            description="Most a master is enlarged, per side, when a URL asks with `upscale=1`; 1 never enlarges. Without `upscale` no URL enlarges.",
            extra=_LIMITS,
        ),
    ] = 4.0
    transform_deadline: Annotated[
        _PositiveSeconds,
        Meta(description="Seconds one transform (decode, resize, encode) may take; libvips work is cancelled then and the request gets 503.", extra=_LIMITS),
    ] = 10.0
    refusal_ttl: Annotated[
        float,
        Meta(
            ge=0,
            le=3600,
            description="Seconds a refused variant (a master that cannot be served so, a deadline passed) is answered from memory without trying again; 0 off.",
            extra=_LIMITS,
        ),
    ] = 60.0

    # Transforms and caches
    transform_threads: Annotated[int, Meta(ge=0, description="Worker threads for transforms; 0 is one per core.", extra=_TRANSFORMS)] = 0
    transform_queue: Annotated[
        int, Meta(ge=0, description="Transforms that may wait for a thread, per process; past it requests get 503 + Retry-After.", extra=_TRANSFORMS)
    ] = 32
    vips_concurrency: Annotated[
        int,
        Meta(ge=0, description="Threads libvips uses inside one transform; the pool already runs one transform per thread (docs/delivery.md).", extra=_TRANSFORMS),
    ] = 1
    avif_effort: Annotated[
        int,
        Meta(
            ge=0,
            le=9,
            description="AV1 encoder effort of AVIF outputs (libvips' `effort`: 0 fastest, 9 smallest); measured in docs/benchmarks.md,"
            " changing it changes AVIF ETags.",
            extra=_TRANSFORMS,
        ),
    ] = 2
    variant_cache_bytes: Annotated[
        int, Meta(ge=0, description="Encoded variants kept in memory per process, in bytes; 0 turns it off.", extra=_TRANSFORMS)
    ] = 256 * 1024 * 1024
    master_cache_bytes: Annotated[
        int, Meta(ge=0, description="Masters kept in memory per process after a transform (with their checked header), in bytes; 0 turns it off.", extra=_TRANSFORMS)
    ] = 64 * 1024 * 1024
    cache_ttl: Annotated[
        _PositiveSeconds,
        Meta(
            description="Seconds an in-process cache entry (variant, master) lives at most: the backstop should a change notification"
            " be lost; changes normally reach every process within a second through PostgreSQL `LISTEN/NOTIFY`.",
            extra=_TRANSFORMS,
        ),
    ] = 3600.0
    lookup_cache_entries: Annotated[
        int,
        Meta(
            ge=0,
            le=10_000_000,
            description="Rows kept per lookup cache per process (projects, keys, signing secrets, styles, presets, models, `@names`,"
            " generation keys): what a `/g/` hit reads without a query; 0 turns them off.",
            extra=_TRANSFORMS,
        ),
    ] = 10_000
    lookup_cache_ttl: Annotated[
        _PositiveSeconds,
        Meta(
            description="Seconds a lookup cache entry lives at most: how long a revoked key, a moved `@name` or an edited style"
            " can still be used should change notifications stop; with them a change reaches every process within a second.",
            extra=_TRANSFORMS,
        ),
    ] = 30.0
    change_listener: Annotated[
        bool,
        Meta(
            description="Listen for changes (PostgreSQL `LISTEN`) to drop cached entries and purge the edge; false leaves every"
            " in-process cache to its TTL and purges nothing.",
            extra=_TRANSFORMS,
        ),
    ] = True
    key_use_flush: Annotated[
        _PositiveSeconds,
        Meta(description="Seconds between batched writes of keys' `last_used_at` (and once at shutdown); hits never write.", extra=_TRANSFORMS),
    ] = 30.0

    # Security and billing
    env: Annotated[
        Literal["development", "production"],
        Meta(description="`production` refuses unsafe settings at start-up and creates no demo tenancy.", extra=_SECURITY),
    ] = "development"
    secret_key: Annotated[
        str | None,
        Meta(
            description=f"Master secret link-signing secrets are derived from, at least {MIN_SECRET_CHARS} random characters;"
            " unset in development is a random one generated once and kept in `$PROMPTPIX_DATA_DIR/secret_key`.",
            extra=_SECURITY,
        ),
    ] = None
    generation_price: Annotated[int, Meta(ge=1, description="Credits one generation costs, reserved before the provider call.", extra=_SECURITY)] = 1
    extension_price: Annotated[
        int,
        Meta(
            ge=1,
            description="Credits one extension (a root or an upload outpainted to another aspect) costs, reserved before the provider call.",
            extra=_SECURITY,
        ),
    ] = 1
    billing_mode: Annotated[
        Literal["fixed", "cost"],
        Meta(
            description="`fixed` charges each generation its model's price; `cost` reserves that price and, once the image is stored,"
            " gives back what the provider's recorded cost × `PROMPTPIX_CREDITS_PER_COST_UNIT` (rounded up) does not use.",
            extra=_SECURITY,
        ),
    ] = "fixed"
    credits_per_cost_unit: Annotated[
        _Credits, Meta(description="Credits one unit of provider cost (USD at list prices) is billed as, in `cost` billing mode.", extra=_SECURITY)
    ] = 100.0
    free_monthly_allowance: Annotated[
        int, Meta(ge=0, description="Generations a new `free` organisation may make per calendar month (UTC).", extra=_SECURITY)
    ] = 100
    key_misses_per_minute: Annotated[
        int, Meta(ge=1, description="Cache misses (generations) one key may start per minute, unless the key sets its own.", extra=_SECURITY)
    ] = 60
    ip_misses_per_minute: Annotated[int, Meta(ge=1, description="Cache misses one client IP may start per minute through unsigned links.", extra=_SECURITY)] = 20

    # REST API
    idempotency_ttl: Annotated[
        _PositiveSeconds, Meta(description="Seconds an `Idempotency-Key` and its first response are kept for replay.", extra=_API)
    ] = 86_400.0
    idempotency_lease: Annotated[
        _PositiveSeconds,
        Meta(
            description="Seconds a first request holds its `Idempotency-Key` before a retry may assume its process died and run it again;"
            " longer than any request can take (a generation with its retries).",
            extra=_API,
        ),
    ] = 600.0
    search_language: Annotated[
        SearchLanguage,
        Meta(description="Text search configuration `GET /v1/assets?q=` stems words with (PostgreSQL's; `simple` does not stem).", extra=_API),
    ] = "english"
    api_page_size: Annotated[int, Meta(ge=1, le=200, description="Items per page of `/v1` lists when the request names no `limit`.", extra=_API)] = 50
    embeddings: Annotated[
        Literal["auto", "gemini", "offline", "off"],
        Meta(
            description="Semantic search's embeddings: `gemini` embeds with `PROMPTPIX_EMBEDDING_MODEL` (needs `GEMINI_API_KEY`); `offline` hashes"
            " words (deterministic, no semantics: for development and tests); `off` keeps search full-text only; `auto` is gemini when"
            " `GEMINI_API_KEY` is set, else off.",
            extra=_API,
        ),
    ] = "auto"
    embedding_model: Annotated[str, Meta(description="Gemini embedding model, pinned by full name; vectors of another model are not compared.", extra=_API)] = (
        "gemini-embedding-001"
    )
    embedding_timeout: Annotated[
        _PositiveSeconds, Meta(description="Seconds one embedding call may take; a search whose query cannot be embedded in time is full-text only.", extra=_API)
    ] = 10.0
    embedding_batch: Annotated[int, Meta(ge=1, le=100, description="Assets embedded in one call by the background embedder.", extra=_API)] = 50
    embedding_queue: Annotated[
        int, Meta(ge=1, description="Assets waiting to be embedded, per process; past it new ones are dropped (logged; `promptpix assets embed` catches up).", extra=_API)
    ] = 10_000
    semantic_candidates: Annotated[
        int, Meta(ge=1, le=1000, description="Nearest neighbours of a query's embedding that `GET /v1/assets?q=` fuses with the full-text ranking.", extra=_API)
    ] = 100
    semantic_min_similarity: Annotated[
        float,
        Meta(
            ge=0,
            le=1,
            description="Least cosine similarity for a semantic match to count; model-specific (tune it to the embedding model).",
            extra=_API,
        ),
    ] = 0.55

    # Web console
    console_link_seconds: Annotated[
        _PositiveSeconds, Meta(le=86400, description="Seconds a one-time console sign-in link stays usable.", extra=_CONSOLE)
    ] = 900.0
    console_session_seconds: Annotated[
        _PositiveSeconds, Meta(le=30 * 86400, description="Seconds a console session lasts after sign-in.", extra=_CONSOLE)
    ] = 43200.0
    console_page_size: Annotated[int, Meta(ge=1, le=200, description="Assets per page of the console's library grid.", extra=_CONSOLE)] = 24

    # Assets and repair
    sweep_interval: Annotated[
        _Seconds, Meta(description="Seconds between periodic sweeps, a task one queue worker runs per tick; 0 turns the periodic sweep off.", extra=_REPAIR)
    ] = 3600.0
    sweep_grace: Annotated[_Seconds, Meta(description="An object no row references is removed only once it is older than this many seconds.", extra=_REPAIR)] = (
        3600.0
    )
    sweep_pending_after: Annotated[
        _Seconds, Meta(description="A generation still pending this many seconds after it started, held by no process, has failed.", extra=_REPAIR)
    ] = 900.0

    # Processes
    workers: Annotated[
        int, Meta(ge=1, description="App processes `serve` starts on one port; the parent starts embedded PostgreSQL once for all.", extra=_PROCESSES)
    ] = 1
    shutdown_timeout: Annotated[
        _Seconds, Meta(description="Seconds a stopping worker lets in-flight requests (a generation included) finish.", extra=_PROCESSES)
    ] = 150.0
    claim_timeout: Annotated[
        _Seconds, Meta(description="Seconds a request waits for another process's generation of the same key before a 503.", extra=_PROCESSES)
    ] = 150.0

    # Jobs, workers and webhooks
    serve_worker: Annotated[
        Literal["auto", "on", "off"],
        Meta(
            description="Whether `serve` also runs a queue worker in its process (jobs, webhook deliveries, periodic repair); auto: only with the"
            " embedded PostgreSQL, so `make run` needs one command. Deployments run `promptpix worker`.",
            extra=_JOBS,
        ),
    ] = "auto"
    worker_concurrency: Annotated[
        int, Meta(ge=1, le=64, description="Queue jobs one worker process (`promptpix worker`, or the one in `serve`) runs at once.", extra=_JOBS)
    ] = 4
    worker_heartbeat: Annotated[
        _PositiveSeconds, Meta(le=600, description="Seconds between a worker's heartbeats in the database.", extra=_JOBS)
    ] = 10.0
    worker_stalled_after: Annotated[
        _PositiveSeconds,
        Meta(
            le=3600,
            description="Seconds without a heartbeat after which a worker counts as dead and its running jobs are queued again for another.",
            extra=_JOBS,
        ),
    ] = 30.0
    stalled_check_interval: Annotated[
        int, Meta(ge=1, le=3600, description="Seconds between the periodic checks for jobs of dead workers.", extra=_JOBS)
    ] = 15
    webhook_retry_schedule: Annotated[
        str,
        Meta(
            pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$",
            description="Comma-separated seconds to wait before each retry of a webhook delivery that failed; after the last, the message"
            " is marked failed (the default retries for about 27 hours).",
            extra=_JOBS,
        ),
    ] = "5,300,1800,7200,18000,36000,36000"
    webhook_timeout: Annotated[
        _PositiveSeconds, Meta(le=60, description="Seconds a webhook endpoint has to answer one delivery.", extra=_JOBS)
    ] = 10.0
    webhook_allowed_networks: Annotated[
        str,
        Meta(
            description="Comma-separated networks (CIDR) webhook URLs may resolve to although they are loopback, private, link-local or"
            " metadata addresses, which are refused otherwise (e.g. `127.0.0.0/8` for a receiver on the same machine).",
            extra=_JOBS,
        ),
    ] = ""

    # Edge purge
    nginx_purge_urls: Annotated[
        str,
        Meta(
            description="Comma-separated base URLs of the nginx edges (`http://nginx`) each process sends `PURGE` requests to for the image URLs"
            " it served of a changed asset; empty: no nginx purge.",
            extra=_EDGE,
        ),
    ] = ""
    edge_ttl: Annotated[
        int,
        Meta(
            ge=1,
            description="Seconds nginx keeps an image before revalidating it with the app (`X-Accel-Expires`; a 304 when unchanged): bounds what a"
            " missed purge leaves stale.",
            extra=_EDGE,
        ),
    ] = 86_400
    cloudflare_zone_id: Annotated[
        str | None, Meta(description="Cloudflare zone whose cache is purged by tag when an asset changes; unset: no Cloudflare purge.", extra=_EDGE)
    ] = None
    cloudflare_api_token: Annotated[str | None, Meta(description="Cloudflare API token with the zone's *Cache Purge* permission.", extra=_EDGE)] = None
    cloudflare_api_url: Annotated[str, Meta(description="Base URL of the Cloudflare API.", extra=_EDGE)] = "https://api.cloudflare.com/client/v4"
    cloudflare_purge_batch: Annotated[
        int, Meta(ge=1, le=100, description="Cache tags in one Cloudflare purge request (Cloudflare accepts 30 on most plans).", extra=_EDGE)
    ] = 30
    cloudflare_purge_interval: Annotated[
        _PositiveSeconds, Meta(description="Seconds between Cloudflare purge requests: tags changed meanwhile are batched into the next.", extra=_EDGE)
    ] = 1.0
    cloudflare_purge_attempts: Annotated[
        int, Meta(ge=1, le=20, description="Attempts per Cloudflare purge batch (429 and 5xx are retried with backoff) before it is logged and dropped.", extra=_EDGE)
    ] = 5

    # Logs
    log_level: Annotated[str, Meta(description="Least severe level logged (`DEBUG`, `INFO`, `WARNING`, `ERROR`); logs are JSON lines on stderr.", extra=_LOGS)] = (
        "INFO"
    )
    log_requests: Annotated[bool, Meta(description="One access log line per request.", extra=_LOGS)] = True

    @classmethod
    def env_names(cls) -> list[str]:
        """Every variable the service reads, in field order; `.env.example` must list them all."""
        return [field.encode_name for field in msgspec.structs.fields(cls)]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """An empty variable is unset: its default applies."""
        environ = os.environ if environ is None else environ
        raw = {name: environ[name] for name in cls.env_names() if environ.get(name)}
        settings = _convert(raw, strict=False)
        settings._check_rules()
        return settings

    def validate(self) -> None:
        """Settings built in code skip conversion: the round trip applies the field constraints to them too."""
        _convert(msgspec.to_builtins(self), strict=True)
        self._check_rules()

    def _check_rules(self) -> None:
        """Every broken rule, one line each, so one start-up names everything to fix."""
        broken = [rule.says + rule.hint for rule in RULES if not rule.holds(self)]
        if broken:
            raise SettingsError("\n".join(broken))

    @property
    def webhook_retries(self) -> list[float]:
        return [float(part) for part in self.webhook_retry_schedule.split(",") if part.strip()]

    @property
    def runs_serve_worker(self) -> bool:
        return self.serve_worker == "on" or (self.serve_worker == "auto" and not self.database_url)

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
    def generator_name(self) -> Literal["offline", "gemini", "replicate"]:
        if self.generator == "auto":
            return "gemini" if self.gemini_api_key else "replicate" if self.replicate_api_token else "offline"
        return self.generator

    @property
    def embeddings_name(self) -> Literal["gemini", "offline", "off"]:
        if self.embeddings == "auto":
            return "gemini" if self.gemini_api_key else "off"
        return self.embeddings

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


def _convert(raw: Mapping[str, Any], *, strict: bool) -> Settings:
    """msgspec says "Expected `int` >= 1 - at `$.PROMPTPIX_PORT`"; the refusal leads with the variable and what it accepts."""
    try:
        return msgspec.convert(raw, Settings, strict=strict)
    except msgspec.ValidationError as exc:
        problem, _, where = str(exc).rpartition(" - at `$.")
        accepts = {doc.variable: doc.accepts for doc in reference()}.get(where.rstrip("`"))
        if not problem or accepts is None:
            raise SettingsError(f"invalid setting: {exc}") from exc
        raise SettingsError(f"invalid setting {where.rstrip('`')} ({accepts}): {problem}") from exc


class FieldDoc(NamedTuple):
    """One variable as the reference shows it, read from its field."""

    variable: str
    accepts: str
    """Type and range, or the choices."""
    default: str
    """As the variable would spell it; empty for unset."""
    description: str
    group: str


def reference() -> list[FieldDoc]:
    """Every variable in field order, from the Meta of its field (docs/settings.md and .env.example are rendered from this)."""
    info = msgspec.inspect.type_info(Settings)
    assert isinstance(info, msgspec.inspect.StructType)
    docs = []
    for field in info.fields:
        meta = field.type
        if isinstance(meta, msgspec.inspect.Metadata):
            schema, extra, kind = meta.extra_json_schema or {}, meta.extra or {}, meta.type
        else:
            schema, extra, kind = {}, {}, meta
        if "description" not in schema or "group" not in extra:
            raise TypeError(f"Settings.{field.name} needs Meta(description=..., extra={{'group': ...}}): the reference is made from it")
        docs.append(FieldDoc(field.encode_name, _accepts(kind), env_value(field.default), schema["description"], extra["group"]))
    return docs


def env_value(value: object) -> str:
    """A default as an environment variable would spell it (what `from_env` reads back to the same value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _accepts(kind: msgspec.inspect.Type) -> str:
    if isinstance(kind, msgspec.inspect.UnionType):  # `X | None`: unset is the None, shown as the default
        kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    if isinstance(kind, msgspec.inspect.LiteralType):
        choices = [f"`{value}`" for value in kind.values]
        return f"{', '.join(choices[:-1])} or {choices[-1]}"
    if isinstance(kind, msgspec.inspect.BoolType):
        return "`true` or `false`"
    if isinstance(kind, msgspec.inspect.StrType):
        return f"string matching `{kind.pattern}`" if kind.pattern else "string"
    if isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        name = "integer" if isinstance(kind, msgspec.inspect.IntType) else "number"
        if kind.ge is not None and kind.le is not None:
            return f"{name} {kind.ge}–{kind.le}"
        bounds = [f"{sign} {bound}" for sign, bound in ((">", kind.gt), ("≥", kind.ge), ("<", kind.lt), ("≤", kind.le)) if bound is not None]
        return " ".join([name, *bounds])
    raise TypeError(f"no reference text for {kind!r}")


class Rule(NamedTuple):
    """A refusal a field's Meta cannot express: it spans fields, or judges a value's safety."""

    says: str
    """The refusal, and the line docs/settings.md lists; it names the variables involved."""
    holds: Callable[[Settings], bool]
    hint: str = ""
    """Appended to the refusal only: how to fix it."""


def gemini_has_a_key(settings: Settings) -> bool:
    return settings.generator != "gemini" or bool(settings.gemini_api_key)


def replicate_has_a_token(settings: Settings) -> bool:
    return settings.generator != "replicate" or bool(settings.replicate_api_token)


def moderation_has_a_key(settings: Settings) -> bool:
    return settings.moderation != "gemini" or bool(settings.gemini_api_key)


def embeddings_have_a_key(settings: Settings) -> bool:
    return settings.embeddings != "gemini" or bool(settings.gemini_api_key)


def production_has_a_real_generator(settings: Settings) -> bool:
    """Placeholders served (and cached for a year) as if real: only when asked for by name."""
    return not settings.production or settings.generator != "auto" or settings.generator_name != "offline"


def s3_names_a_bucket(settings: Settings) -> bool:
    storage = settings.resolved_storage_url
    return not storage.startswith("s3://") or bool(urlsplit(storage).netloc)


def _shannon(items: Sequence[object]) -> float:
    counts = Counter(items)
    return -sum(n / len(items) * math.log2(n / len(items)) for n in counts.values())


def estimated_bits(secret: str) -> float:
    """A pessimistic entropy estimate: length × the lower of the Shannon entropy of the characters and of the
    steps between neighbours, so repeats (`abab…`) and runs (`0123…`, `abcd…`) score low however long they are."""
    if len(secret) < 2:
        return 0.0
    steps = [ord(b) - ord(a) for a, b in pairwise(secret)]
    return len(secret) * min(_shannon(secret), _shannon(steps))


def _weak(secret: str, *, min_chars: int, min_bits: float) -> bool:
    placeholder = any(mark in secret.lower() for mark in PLACEHOLDER_MARKS)
    return placeholder or len(secret) < min_chars or estimated_bits(secret) < min_bits


def production_secret_is_strong(settings: Settings) -> bool:
    """Secrets that are missing, short or well known would let anyone sign links."""
    if not settings.production:
        return True
    secret = settings.secret_key or ""
    return not _weak(secret, min_chars=MIN_SECRET_CHARS, min_bits=MIN_SECRET_BITS)


def production_uses_an_external_database(settings: Settings) -> bool:
    """The embedded server lives in one container's data directory: no replicas, no backups, no failover."""
    return not settings.production or bool(settings.database_url)


def _database_password(settings: Settings) -> str | None:
    url = urlsplit(settings.database_url or "")
    from_query = [v for k, v in parse_qsl(url.query) if k == "password"]
    return url.password or (from_query[0] if from_query else None)


def production_database_has_a_password(settings: Settings) -> bool:
    return not settings.production or not settings.database_url or bool(_database_password(settings))


def production_database_password_is_strong(settings: Settings) -> bool:
    password = _database_password(settings)
    return not settings.production or not password or not _weak(password, min_chars=MIN_PASSWORD_CHARS, min_bits=MIN_PASSWORD_BITS)


def production_s3_secret_is_strong(settings: Settings) -> bool:
    secret = settings.aws_secret_access_key
    return not settings.production or not secret or not _weak(secret, min_chars=MIN_PASSWORD_CHARS, min_bits=MIN_PASSWORD_BITS)


def cloudflare_has_a_token(settings: Settings) -> bool:
    return not settings.cloudflare_zone_id or bool(settings.cloudflare_api_token)


RULES = (
    Rule("PROMPTPIX_CLOUDFLARE_ZONE_ID needs PROMPTPIX_CLOUDFLARE_API_TOKEN", cloudflare_has_a_token),
    Rule("PROMPTPIX_GENERATOR=gemini needs GEMINI_API_KEY", gemini_has_a_key),
    Rule("PROMPTPIX_GENERATOR=replicate needs REPLICATE_API_TOKEN", replicate_has_a_token),
    Rule("PROMPTPIX_MODERATION=gemini needs GEMINI_API_KEY", moderation_has_a_key),
    Rule("PROMPTPIX_EMBEDDINGS=gemini needs GEMINI_API_KEY", embeddings_have_a_key),
    Rule("PROMPTPIX_STORAGE_URL must name a bucket: s3://bucket[/prefix]", s3_names_a_bucket),
    Rule(
        f"PROMPTPIX_ENV=production needs PROMPTPIX_SECRET_KEY: at least {MIN_SECRET_CHARS} random characters,"
        f" with no placeholder ({', '.join(PLACEHOLDER_MARKS)}), runs or repeats (about {MIN_SECRET_BITS} bits estimated)",
        production_secret_is_strong,
        hint=" (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)",
    ),
    Rule(
        "PROMPTPIX_ENV=production needs PROMPTPIX_DATABASE_URL: an external PostgreSQL, not the embedded one",
        production_uses_an_external_database,
    ),
    Rule(
        "PROMPTPIX_ENV=production needs a password in PROMPTPIX_DATABASE_URL (postgresql://user:password@host/db)",
        production_database_has_a_password,
    ),
    Rule(
        f"PROMPTPIX_ENV=production needs a strong database password in PROMPTPIX_DATABASE_URL: at least {MIN_PASSWORD_CHARS}"
        f" random characters, not a template value",
        production_database_password_is_strong,
        hint=" (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)",
    ),
    Rule(
        f"PROMPTPIX_ENV=production needs a strong AWS_SECRET_ACCESS_KEY: at least {MIN_PASSWORD_CHARS}"
        f" random characters, not a template value",
        production_s3_secret_is_strong,
        hint=" (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)",
    ),
    Rule(
        "PROMPTPIX_ENV=production needs a real generator: set GEMINI_API_KEY or REPLICATE_API_TOKEN,"
        " or PROMPTPIX_GENERATOR=offline to serve offline placeholders on purpose",
        production_has_a_real_generator,
    ),
)
