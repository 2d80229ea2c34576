import re

import msgspec
import pytest

from delivery.settings import Settings, SettingsError, reference
from delivery.storage import open_storage
from delivery.storage.s3 import S3Storage
from tests.s3server import recording_404


def test_defaults_are_the_embedded_run() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.generator_name == "offline"
    assert settings.resolved_storage_url == f"file://{settings.data_path / 'objects'}"
    assert settings.resolved_public_url == "http://127.0.0.1:8080"


def test_env_names_follow_the_design() -> None:
    settings = Settings.from_env(
        {
            "PROMPTPIX_PORT": "9000",
            "PROMPTPIX_DATABASE_URL": "postgresql://db/x",
            "PROMPTPIX_PUBLIC_URL": "https://img.example.com/",
            "GEMINI_API_KEY": "k",
            "PROMPTPIX_MAX_OUTPUT_PIXELS": "1000",
        }
    )
    assert settings.port == 9000
    assert settings.database_url == "postgresql://db/x"
    assert settings.resolved_public_url == "https://img.example.com"
    assert settings.generator_name == "gemini"
    assert settings.max_output_pixels == 1000


@pytest.mark.parametrize(
    "env",
    [
        {"PROMPTPIX_PORT": "http"},
        {"PROMPTPIX_PORT": "0"},
        {"PROMPTPIX_GENERATOR": "dalle"},
        {"PROMPTPIX_GENERATOR": "gemini"},
        {"PROMPTPIX_STORAGE_URL": "ftp://x"},
        {"PROMPTPIX_MAX_SOURCE_PIXELS": "-1"},
        {"PROMPTPIX_STORAGE_URL": "s3://"},
        {"PROMPTPIX_SWEEP_GRACE": "-1"},
        {"PROMPTPIX_SWEEP_INTERVAL": "-5"},
        {"PROMPTPIX_MAX_REFERENCES": "-1"},
        {"PROMPTPIX_ENHANCE_TIMEOUT": "0"},
        {"PROMPTPIX_GENERATION_TIMEOUT": "-1"},
        {"PROMPTPIX_GENERATION_ATTEMPTS": "0"},
        {"PROMPTPIX_GENERATION_BACKOFF": "-0.5"},
        {"PROMPTPIX_GEMINI_PRICE_PER_IMAGE": "-1"},
    ],
)
def test_bad_settings_refuse_to_start(env: dict[str, str]) -> None:
    [name] = env
    field = name.removeprefix("PROMPTPIX_").lower()
    with pytest.raises(SettingsError, match=rf"{name}|\$\.{field}\b"):  # the message names the setting
        Settings.from_env(env)


# Every bounded variable: (lowest accepted, highest accepted or None). Integers
# refuse one below the lowest (one above the highest); numbers with a lowest of
# EPSILON must be positive and refuse 0, the others refuse a value just below 0.
EPSILON = "0.001"
BOUNDS: dict[str, tuple[str, str | None]] = {
    "PROMPTPIX_PORT": ("1", "65535"),
    "PROMPTPIX_MAX_JSON_DEPTH": ("2", "1000"),
    "PROMPTPIX_API_PAGE_SIZE": ("1", "200"),
    "PROMPTPIX_MAX_PROJECT_PROMPT_TERMS": ("0", "10000"),
    "PROMPTPIX_CONSOLE_PAGE_SIZE": ("1", "200"),
    "PROMPTPIX_CONSOLE_LINK_SECONDS": (EPSILON, "86400"),
    "PROMPTPIX_CONSOLE_SESSION_SECONDS": (EPSILON, "2592000"),
    "PROMPTPIX_CLOUDFLARE_PURGE_BATCH": ("1", "100"),
    "PROMPTPIX_CLOUDFLARE_PURGE_ATTEMPTS": ("1", "20"),
    "PROMPTPIX_WORKER_CONCURRENCY": ("1", "64"),
    "PROMPTPIX_WORKER_HEARTBEAT": (EPSILON, "600"),
    "PROMPTPIX_WORKER_STALLED_AFTER": (EPSILON, "3600"),
    "PROMPTPIX_STALLED_CHECK_INTERVAL": ("1", "3600"),
    "PROMPTPIX_WEBHOOK_TIMEOUT": (EPSILON, "60"),
    "PROMPTPIX_REFERENCE_MAX_SIDE": ("64", "8192"),
    "PROMPTPIX_MAX_UPSCALE": ("1", "16"),
    "PROMPTPIX_REFUSAL_TTL": ("0", "3600"),
    "PROMPTPIX_LOOKUP_CACHE_ENTRIES": ("0", "10000000"),
    "PROMPTPIX_MIN_CROP_KEEP": (EPSILON, "1"),
    "PROMPTPIX_EMBEDDING_BATCH": ("1", "100"),
    "PROMPTPIX_AVIF_EFFORT": ("0", "9"),
    "PROMPTPIX_SEMANTIC_CANDIDATES": ("1", "1000"),
    "PROMPTPIX_SEMANTIC_MIN_SIMILARITY": ("0", "1"),
    **dict.fromkeys(
        [
            "PROMPTPIX_MAX_PROMPT_CHARS",
            "PROMPTPIX_MAX_OUTPUT_PIXELS",
            "PROMPTPIX_MAX_SOURCE_PIXELS",
            "PROMPTPIX_MAX_SOURCE_BYTES",
            "PROMPTPIX_MAX_SOURCE_FRAMES",
            "PROMPTPIX_WORKERS",
            "PROMPTPIX_GENERATION_ATTEMPTS",
            "PROMPTPIX_GENERATION_PRICE",
            "PROMPTPIX_EXTENSION_PRICE",
            "PROMPTPIX_KEY_MISSES_PER_MINUTE",
            "PROMPTPIX_IP_MISSES_PER_MINUTE",
            "PROMPTPIX_DB_POOL_SIZE",
            "PROMPTPIX_REPLICATE_MAX_OUTPUT_BYTES",
            "PROMPTPIX_BREAKER_THRESHOLD",
            "PROMPTPIX_EDGE_TTL",
            "PROMPTPIX_EMBEDDING_QUEUE",
        ],
        ("1", None),
    ),
    **dict.fromkeys(
        [
            "PROMPTPIX_MAX_REFERENCES",
            "PROMPTPIX_TRANSFORM_THREADS",
            "PROMPTPIX_TRANSFORM_QUEUE",
            "PROMPTPIX_VIPS_CONCURRENCY",
            "PROMPTPIX_MASTER_CACHE_BYTES",
            "PROMPTPIX_VARIANT_CACHE_BYTES",
            "PROMPTPIX_FREE_MONTHLY_ALLOWANCE",
        ],
        ("0", None),
    ),
    **dict.fromkeys(
        [
            "PROMPTPIX_GENERATION_TIMEOUT",
            "PROMPTPIX_ENHANCE_TIMEOUT",
            "PROMPTPIX_ANALYZE_TIMEOUT",
            "PROMPTPIX_IDEMPOTENCY_TTL",
            "PROMPTPIX_IDEMPOTENCY_LEASE",
            "PROMPTPIX_REPLICATE_DOWNLOAD_TIMEOUT",
            "PROMPTPIX_REPLICATE_POLL_INTERVAL",
            "PROMPTPIX_MODERATION_TIMEOUT",
            "PROMPTPIX_BREAKER_COOLDOWN",
            "PROMPTPIX_CACHE_TTL",
            "PROMPTPIX_LOOKUP_CACHE_TTL",
            "PROMPTPIX_KEY_USE_FLUSH",
            "PROMPTPIX_CLOUDFLARE_PURGE_INTERVAL",
            "PROMPTPIX_TRANSFORM_DEADLINE",
            "PROMPTPIX_EMBEDDING_TIMEOUT",
        ],
        (EPSILON, None),
    ),
    **dict.fromkeys(
        [
            "PROMPTPIX_GEMINI_PRICE_PER_IMAGE",
            "PROMPTPIX_GEMINI_PRICE_PER_MILLION_INPUT_TOKENS",
            "PROMPTPIX_GEMINI_PRICE_PER_MILLION_OUTPUT_TOKENS",
            "PROMPTPIX_GENERATION_BACKOFF",
            "PROMPTPIX_GENERATION_MAX_RETRY_WAIT",
            "PROMPTPIX_OFFLINE_DELAY",
            "PROMPTPIX_REPLICATE_PRICE_PER_IMAGE",
            "PROMPTPIX_CREDITS_PER_COST_UNIT",
            "PROMPTPIX_REPLICATE_PRICE_PER_SECOND",
            "PROMPTPIX_SWEEP_INTERVAL",
            "PROMPTPIX_SWEEP_GRACE",
            "PROMPTPIX_SWEEP_PENDING_AFTER",
            "PROMPTPIX_SHUTDOWN_TIMEOUT",
            "PROMPTPIX_CLAIM_TIMEOUT",
        ],
        ("0", None),
    ),
}


def _just_outside(name: str, lowest: str, highest: str | None) -> list[str]:
    if type(_field(name).default) is int:
        return [str(int(lowest) - 1)] + ([str(int(highest) + 1)] if highest is not None else [])
    return ["0"] if lowest == EPSILON else ["-0.001"]


def _field(name: str) -> msgspec.structs.FieldInfo:
    (field,) = [f for f in msgspec.structs.fields(Settings) if f.encode_name == name]
    return field


def test_every_bounded_variable_is_in_the_table() -> None:
    """A bound added to (or dropped from) a field shows up here, and is tested at its edges below."""
    bounded = {doc.variable for doc in reference() if any(sign in doc.accepts for sign in ("≥", ">", "–"))}
    assert bounded == set(BOUNDS)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_a_value_at_each_bound_is_accepted(name: str) -> None:
    lowest, highest = BOUNDS[name]
    for value in filter(None, (lowest, highest)):
        settings = Settings.from_env({name: value})
        assert getattr(settings, _field(name).name) == float(value)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_a_value_past_each_bound_is_refused_naming_the_variable(name: str) -> None:
    for value in _just_outside(name, *BOUNDS[name]):
        with pytest.raises(SettingsError, match=rf"^invalid setting {name} \("):
            Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("PROMPTPIX_GENERATOR", ["auto", "offline"], ["dalle", "Gemini", "OFFLINE"]),
        ("PROMPTPIX_MODERATION", ["off"], ["on", "Gemini", "openai"]),
        ("PROMPTPIX_ENV", ["development"], ["staging", "prod", "Production"]),
        ("PROMPTPIX_LOG_REQUESTS", ["true", "false", "1", "0"], ["yes", "on"]),
        ("PROMPTPIX_STORAGE_URL", ["file:///srv/objects", "s3://bucket/prefix"], ["ftp://x", "/srv/objects", "S3://bucket"]),
    ],
)
def test_choices_refuse_anything_else_naming_the_variable(name: str, good: list[str], bad: list[str]) -> None:
    for value in good:
        Settings.from_env({name: value})
    for value in bad:
        with pytest.raises(SettingsError, match=rf"^invalid setting {name} \("):
            Settings.from_env({name: value})


def test_defaults_are_valid() -> None:
    defaults = Settings()
    defaults.validate()
    assert Settings.from_env({}) == defaults
    for doc in reference():  # the documented default is what the variable would have to say to get it
        if doc.default:
            assert Settings.from_env({doc.variable: doc.default}) == defaults, doc.variable


def test_settings_built_in_code_get_the_same_refusals() -> None:
    """create_app validates: a Struct constructed directly skipped the conversion that applies the Meta bounds."""
    with pytest.raises(SettingsError, match="PROMPTPIX_API_PAGE_SIZE"):
        Settings(api_page_size=201).validate()
    with pytest.raises(SettingsError, match="PROMPTPIX_GENERATOR"):
        Settings(generator="dalle").validate()  # type: ignore[arg-type]  # the bad choice under test
    with pytest.raises(SettingsError, match="GEMINI_API_KEY"):
        Settings(generator="gemini").validate()
    msgspec.structs.replace(Settings(), transform_queue=0, sweep_grace=0).validate()


def test_rules_name_their_variables() -> None:
    with pytest.raises(SettingsError, match="PROMPTPIX_STORAGE_URL"):
        Settings.from_env({"PROMPTPIX_STORAGE_URL": "s3:///prefix"})
    with pytest.raises(SettingsError, match="PROMPTPIX_GENERATOR=gemini needs GEMINI_API_KEY"):
        Settings.from_env({"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": ""})
    assert Settings.from_env({"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": "k"}).generator_name == "gemini"
    with pytest.raises(SettingsError, match="PROMPTPIX_GENERATOR=replicate needs REPLICATE_API_TOKEN"):
        Settings.from_env({"PROMPTPIX_GENERATOR": "replicate"})
    with pytest.raises(SettingsError, match="PROMPTPIX_MODERATION=gemini needs GEMINI_API_KEY"):
        Settings.from_env({"PROMPTPIX_MODERATION": "gemini", "REPLICATE_API_TOKEN": "r"})


def test_auto_picks_gemini_then_replicate_then_offline() -> None:
    assert Settings.from_env({"GEMINI_API_KEY": "k", "REPLICATE_API_TOKEN": "r"}).generator_name == "gemini"
    assert Settings.from_env({"REPLICATE_API_TOKEN": "r"}).generator_name == "replicate"
    assert Settings.from_env({}).generator_name == "offline"


PRODUCTION = {
    "PROMPTPIX_ENV": "production",
    "PROMPTPIX_SECRET_KEY": "q8Zr1v-5hYxNwB2kLmT4pQe7sD9uFjAa0cVbXgHi3oK",
    "PROMPTPIX_DATABASE_URL": "postgresql://promptpix:Tz4mQ8vR2kLp9XwN7cYb@db/promptpix",
}


def test_production_without_a_real_generator_refuses_to_start() -> None:
    """No key in production used to serve (and cache for a year) offline placeholders as if real."""
    with pytest.raises(SettingsError, match=r"^PROMPTPIX_ENV=production needs a real generator: set GEMINI_API_KEY or REPLICATE_API_TOKEN"):
        Settings.from_env(PRODUCTION)
    assert Settings.from_env(PRODUCTION | {"PROMPTPIX_GENERATOR": "offline"}).generator_name == "offline"  # asked for by name
    assert Settings.from_env(PRODUCTION | {"REPLICATE_API_TOKEN": "r"}).generator_name == "replicate"
    assert Settings.from_env(PRODUCTION | {"GEMINI_API_KEY": "k"}).generator_name == "gemini"


async def test_s3_settings_reach_the_client() -> None:
    """Bucket, prefix, endpoint, region and access key from the environment are what a request carries."""
    with recording_404() as (endpoint, received):
        settings = Settings.from_env(
            {
                "PROMPTPIX_STORAGE_URL": "s3://media/deploy/a/",
                "PROMPTPIX_S3_ENDPOINT": endpoint,
                "PROMPTPIX_S3_REGION": "eu-central-1",
                "AWS_ACCESS_KEY_ID": "id",
                "AWS_SECRET_ACCESS_KEY": "secret",
            }
        )
        storage = await open_storage(settings)
        try:
            assert received == []  # opening makes no request
            assert isinstance(storage, S3Storage)
            assert not await storage.exists("masters/1/aa/x.png")
        finally:
            await storage.close()
    (head,) = received
    assert (head.method, head.path) == ("HEAD", "/media/deploy/a/masters/1/aa/x.png")
    assert re.search(r"Credential=id/\d{8}/eu-central-1/s3/aws4_request", head.authorization), head.authorization
