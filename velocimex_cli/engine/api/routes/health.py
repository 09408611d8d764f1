"""Public health route (no key needed): used by the launcher to know the engine is up."""

from __future__ import annotations

import os

from fastapi import APIRouter
from starlette.requests import Request

from velocimex_cli import __version__
from velocimex_cli.engine.api.responses import JsonResponse, ok

router = APIRouter(tags=["health"])


@router.get("/v1/health")
async def health(request: Request) -> JsonResponse:
    runtime = request.app.state.runtime
    data_dir = runtime.settings.data_dir
    return ok(
        {
            "service": "vmx-engine",
            "version": __version__,
            "pid": os.getpid(),
            "data_dir": None if data_dir is None else str(data_dir),
        }
    )
