"""Liveness and readiness for load balancers and orchestrators; metrics for Prometheus."""

from __future__ import annotations

from litestar import Request, Response, get

from delivery.http.responses import NO_STORE
from delivery.ops.metrics import CONTENT_TYPE
from delivery.services import Services

__all__ = ["healthz", "metrics", "readyz"]


@get("/healthz", summary="Liveness")
async def healthz() -> Response[dict[str, str]]:
    return Response({"status": "ok"}, headers={"Cache-Control": NO_STORE})


@get("/readyz", summary="Readiness: database and storage reachable; each provider's circuit as detail")
async def readyz(request: Request) -> Response[dict[str, str]]:
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        async with services.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unreachable"
    try:
        await services.storage.ping()
        checks["storage"] = "ok"
    except Exception:
        checks["storage"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    # Detail, not readiness: with a provider's circuit open this process still serves every cached image.
    circuits = {f"provider:{name}": services.circuits.state(name) for name in sorted(services.providers)}
    return Response(
        {"status": "ok" if ready else "unavailable", **checks, **circuits},
        status_code=200 if ready else 503,
        headers={"Cache-Control": NO_STORE},
    )


@get("/metrics", summary="Prometheus metrics (text format), totals of every worker process", include_in_schema=False)
async def metrics(request: Request) -> Response[bytes]:
    services: Services = request.app.state.services
    # A header, not `media_type`: Litestar appends `; charset=utf-8` to text/* types, and Prometheus' already names it.
    return Response(services.metrics.render(), headers={"Content-Type": CONTENT_TYPE, "Cache-Control": NO_STORE})
