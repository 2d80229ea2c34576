"""No key material in the database or the logs: keys, their secrets, signing secrets, the master secret."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from delivery.access.keys import parse_key
from delivery.access.signing import load_master_secret
from delivery.app import create_app
from delivery.ops.logs import JsonFormatter
from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.tenancy import make_tenant


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("httpx", "pyvips")):  # the test's own HTTP client; per-pixel chatter
            self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Lines]:
    handler, root = Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


async def all_stored_text(url: str) -> list[bytes]:
    """Every text, text[] and bytea value of every table, as bytes (a pg_dump of the data, in effect)."""
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('text', 'ARRAY', 'bytea', 'character varying', 'jsonb')"""
        )
        values: list[bytes] = []
        for c in columns:
            rows = await conn.fetch(f'SELECT "{c["column_name"]}"::text AS v, "{c["column_name"]}" AS raw FROM "{c["table_name"]}"')
            for row in rows:
                if row["v"] is not None:
                    values.append(row["v"].encode())
                if isinstance(row["raw"], bytes):
                    values.append(row["raw"])
        return values
    finally:
        await conn.close()


async def test_no_key_material_reaches_the_database_or_the_logs(settings: Settings, logs: Lines) -> None:
    logged = msgspec.structs.replace(settings, log_requests=True, log_level="DEBUG")
    async with AsyncTestClient(app=create_app(logged, provider=CountingProvider())) as client:
        tenant = await make_tenant(settings.database_url or "", credits=5, allow_unsigned=True, origins=["*"])
        admin = {"Authorization": f"Bearer {tenant.secret_key}"}
        created = (await client.post("/v1/projects/acme/keys", json={"kind": "secret"}, headers=admin)).json()["secret"]
        rotated = await client.post(f"/v1/projects/acme/keys/{tenant.publishable_id}/signing-secrets", json={}, headers=admin)
        signing = rotated.json()["signing_secret"]
        link = (await client.post("/v1/projects/acme/links", json={"params": {"prompt": "secret fox"}}, headers=admin)).json()["path"]
        assert (await client.get(link)).status_code == 200
        assert (await client.get(f"/g/acme?prompt=open+fox&key={tenant.publishable_id}")).status_code == 200
        assert (await client.get("/v1/billing/balance", headers={"Authorization": f"Bearer {created}"})).status_code == 200
        assert (await client.get("/v1/billing/balance", headers={"Authorization": f"Bearer {created}x"})).status_code == 401

    master = load_master_secret(logged)  # the secret the app loaded: it made it in the data dir on start
    secrets_: list[bytes] = [master, base64.urlsafe_b64decode(signing + "=="), signing.encode()]
    for full in (tenant.secret_key, tenant.publishable_key, created):
        secrets_ += [full.encode(), parse_key(full)[1].encode()]
    stored = await all_stored_text(settings.database_url or "")
    assert len(stored) > 20  # the dump saw the keys, ledger, assets …
    for secret in secrets_:
        assert not any(secret in value for value in stored), "key material in the database"
    text = "\n".join(logs.lines)
    assert '"path": "/g/acme"' in text or '"path":"/g/acme"' in text  # the access log ran
    assert "sig=" not in text
    for secret in secrets_:
        assert secret.decode("latin-1") not in text, "key material in the logs"
