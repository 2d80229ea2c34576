"""The upload → name → generate-with-`@logo` path of the API on SeaweedFS S3, as on the filesystem."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.integration import test_api_generations as api
from tests.s3server import S3Server
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
def settings(database_url: str, tmp_path: Path, seaweedfs: S3Server) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path / "data"),
        log_requests=False,
        sweep_interval=0,
        storage_url=f"s3://{seaweedfs.new_bucket()}",
        s3_endpoint=seaweedfs.endpoint,
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key=seaweedfs.secret_key,
    )


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


async def test_a_logo_reaches_the_image_on_s3(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider, settings: Settings) -> None:
    assert settings.resolved_storage_url.startswith("s3://")
    await api.test_a_logo_uploaded_named_and_referenced_is_in_the_generated_image(client, tenant, provider)
