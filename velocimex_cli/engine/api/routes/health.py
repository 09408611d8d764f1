"""Public health route (no key needed): used by the launcher to know the engine is up."""

from __future__ import annotations

import os

from velocimex_cli import __version__
from velocimex_cli.engine.api.operations import Call, Operation, Success
from velocimex_cli.engine.api.payloads import ref
from velocimex_cli.engine.api.responses import JsonResponse, ok


async def health(call: Call) -> JsonResponse:
    data_dir = call.runtime.settings.data_dir
    return ok(
        {
            "service": "vmx-engine",
            "version": __version__,
            "pid": os.getpid(),
            "data_dir": None if data_dir is None else str(data_dir),
        }
    )


OPERATIONS = (
    Operation(
        "GET",
        "/v1/health",
        health,
        "Health (public, not rate limited)",
        "health",
        (Success(200, "The engine is up.", ref("Health")),),
        permission=None,
        extension=True,
    ),
)
