import re

import pytest

from delivery.settings import Settings, SettingsError
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
    with pytest.raises(SettingsError):
        Settings.from_env(env)



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
