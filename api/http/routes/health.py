"""Health endpoints, unauthenticated, for the platform that runs the server: liveness, readiness (database
and sealer lag), Prometheus metrics. (The operations *staff* routes, scope ``operations``, are
``claims_review.py`` and ``operations_members.py``.)"""

from __future__ import annotations

import logging
from enum import StrEnum

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from api.client.schemas import common as schemas
from api.http.threads import run_blocking
from api.runtime import Runtime

logger = logging.getLogger("api.ops")


class DatabaseState(StrEnum):
    """What ``/ready`` reports of the database (the value is the body's ``database``)."""

    OK = "ok"
    UNAVAILABLE = "unavailable"


class SealerState(StrEnum):
    """What ``/ready`` reports of the sealer (the value is the body's ``sealer``)."""

    RUNNING = "running"
    FAILED = "failed"
    EXTERNAL = "external"  # a separate ``ledger sealer`` process; its lag is what counts


class ReadinessStatus(StrEnum):
    """The body's ``status``: 200 when ready, 503 otherwise."""

    READY = "ready"
    NOT_READY = "not_ready"


class HealthController(Controller):
    path = "/"
    tags = ("operations",)

    @get("/health", summary="Liveness: the process answers")
    async def health(self) -> schemas.Health:
        return schemas.Health(status="ok")

    @get(
        "/ready",
        summary="Readiness: database reachable, sealer healthy and not lagging",
        description="200 when ready; 503 with the same body (status not_ready) otherwise.",
    )
    async def ready(self, runtime: NamedDependency[Runtime]) -> Response[schemas.Readiness]:
        try:
            size, sealed = await run_blocking(runtime.seal_lag)
            database = DatabaseState.OK
        except Exception:
            logger.warning("database check failed", exc_info=True)
            size, sealed, database = 0, 0, DatabaseState.UNAVAILABLE
        sealer = SealerState.EXTERNAL
        if runtime.sealer is not None:
            sealer = SealerState.FAILED if runtime.sealer.error is not None else SealerState.RUNNING
        lag = max(size - sealed, 0)
        ready = (
            database is DatabaseState.OK
            and sealer is not SealerState.FAILED
            and lag <= runtime.settings.sealing.ready_max_lag
        )
        body = schemas.Readiness(
            status=ReadinessStatus.READY if ready else ReadinessStatus.NOT_READY,
            database=database,
            log_size=size,
            sealed_size=sealed,
            seal_lag=lag,
            sealer=sealer,
        )
        return Response(body, status_code=200 if ready else 503)

    @get("/metrics", summary="Prometheus metrics", media_type="text/plain; version=0.0.4; charset=utf-8")
    async def metrics(self, runtime: NamedDependency[Runtime]) -> Response[bytes]:
        try:
            await run_blocking(runtime.seal_lag)
        except Exception:  # metrics must render even when the database is down
            logger.warning("database check failed", exc_info=True)
        text, content_type = runtime.metrics.render()
        return Response(text, media_type=content_type)
