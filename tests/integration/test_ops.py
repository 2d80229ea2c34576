from litestar.testing import AsyncTestClient


async def test_health_and_readiness(client: AsyncTestClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "storage": "ok"}
    assert ready.headers["cache-control"] == "no-store"


async def test_openapi_lists_the_image_routes(client: AsyncTestClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert {"/i/{asset_id}", "/g/{project}", "/healthz", "/readyz"} <= set(schema["paths"])
