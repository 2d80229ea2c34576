"""Health, readiness, the OpenAPI document and Prometheus metrics of one app process."""

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from delivery.ops.bootstrap import Demo
from harness.urls import urlencode
from tests.fakes import PaidProvider


@pytest.fixture
def provider() -> PaidProvider:
    """A paid provider's stand-in: offline images are never charged, and this module counts charges."""
    return PaidProvider()


async def test_health_and_readiness(client: AsyncTestClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "storage": "ok", "provider:offline": "closed", "provider:paid-stand-in": "closed"}
    assert ready.headers["cache-control"] == "no-store"


async def test_openapi_lists_the_image_routes(client: AsyncTestClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert {"/i/{asset_id}", "/g/{project}", "/healthz", "/readyz"} <= set(schema["paths"])
    # Image routes document their errors: a PNG for <img>, problem details for JSON clients.
    g_errors = schema["paths"]["/g/{project}"]["get"]["responses"]
    assert {"400", "401", "402", "403", "404", "422", "429", "503"} <= set(g_errors)
    assert "image/png" in g_errors["403"]["content"]
    assert {"400", "404", "415", "422"} <= set(schema["paths"]["/i/{asset_id}"]["get"]["responses"])


async def test_metrics_count_requests_cache_layers_and_transforms(client: AsyncTestClient, demo: Demo) -> None:
    url = f"/g/{demo.project_slug}?" + urlencode({"prompt": "a fox", "w": 64, "h": 64, "fm": "png", "key": demo.key_id})
    assert (await client.get(url)).headers["x-cache-status"] == "GENERATED"
    assert (await client.get(url)).headers["x-cache-status"] == "HIT"
    assert (await client.get(f"/g/{demo.project_slug}?prompt=x")).status_code == 401

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    samples = {
        (family.name, tuple(sorted(sample.labels.items())), sample.name): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    route = ("route", "/g/{project}")
    assert samples[("promptpix_http_requests", (("method", "GET"), route, ("status", "200")), "promptpix_http_requests_total")] == 2
    assert samples[("promptpix_http_requests", (("method", "GET"), route, ("status", "401")), "promptpix_http_requests_total")] == 1
    assert samples[("promptpix_image_responses", (("cache", "GENERATED"), route), "promptpix_image_responses_total")] == 1
    assert samples[("promptpix_image_responses", (("cache", "HIT"), route), "promptpix_image_responses_total")] == 1
    assert samples[("promptpix_generation_seconds", (("outcome", "succeeded"),), "promptpix_generation_seconds_count")] == 1
    assert samples[("promptpix_transform_seconds", (), "promptpix_transform_seconds_count")] == 1
    assert samples[("promptpix_transform_queue_depth", (), "promptpix_transform_queue_depth")] == 0
    # One generation at the flat price (settings.generation_price, 1 by default) was debited.
    assert samples[("promptpix_credits_spent", (), "promptpix_credits_spent_total")] == 1
