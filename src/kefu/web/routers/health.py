"""Is the app up and can it reach its store: for load balancers and `kefu` operators."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from kefu import __version__
from kefu.web.dependencies import EngineDep

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    version: str


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(select(1)).scalar_one()
    except (SQLAlchemyError, OSError) as exc:
        # The exception's class only: its text can hold the store URL.
        log.warning("health check: the database is unreachable (%s)", type(exc).__name__)
        return False
    return True


@router.get(
    "/health", response_model=Health, responses={503: {"model": Health, "description": "Store unreachable"}}
)
def health(engine: EngineDep) -> JSONResponse:
    """Status of the app and whether its database answers a query."""
    if database_reachable(engine):
        body = Health(status="ok", database="ok", version=__version__)
        return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})
    body = Health(status="degraded", database="unreachable", version=__version__)
    return JSONResponse(body.model_dump(), status_code=503, headers={"Cache-Control": "no-store"})
