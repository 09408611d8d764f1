"""Strategy routes: the strategies an engine can deploy, user files, deployments.

GET /v1/strategies and POST /v1/strategies/{id}/deploy are the reference's; the rest are
documented extensions (docs/api.md). A caller sees and controls only the deployments of its
own account. Fixed paths (`/deployments...`) are declared before `/{strategy_id}`.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.requests import Request

from velocimex_cli.engine.api.auth import authenticate
from velocimex_cli.engine.api.request_body import int_param, json_object, str_param
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.wire.errors import InvalidParameter

router = APIRouter(prefix="/v1/strategies", tags=["strategies"])

DEPLOY_FIELDS = {"exchange": "string", "symbol": "string", "params": "object"}
ADD_FIELDS = {"source": "string", "filename": "string", "replace": "boolean"}
DEPLOYMENT_STATES = ("running", "stopping", "completed", "stopped", "failed")


def _deployments(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.runtime.deployments


@router.get("")
async def list_strategies(request: Request) -> JsonResponse:
    authenticate(request)
    return ok({"strategies": _deployments(request).registry.list()})


@router.post("", status_code=201)
async def add_strategy(request: Request) -> JsonResponse:
    """Extension: register a user strategy file (its source text)."""
    authenticate(request, "trade")
    body = await json_object(request, ADD_FIELDS)
    deployments = _deployments(request)
    source, filename = body.get("source"), body.get("filename")
    described = await asyncio.to_thread(deployments.check_source, source, filename)
    added = deployments.add_strategy(source, described, bool(body.get("replace", False)))
    return ok(added, 201)


@router.get("/deployments")
async def list_deployments(request: Request) -> JsonResponse:
    """Extension: the caller's deployments (?state= running, completed, stopped, failed)."""
    principal = authenticate(request)
    state = str_param(request, "state")
    if state is not None and state not in DEPLOYMENT_STATES:
        raise InvalidParameter(
            "state", state, f"state must be one of {', '.join(DEPLOYMENT_STATES)}"
        )
    found = _deployments(request).list(principal.account, state)
    return ok({"deployments": found})


@router.get("/deployments/{deployment_id}")
async def get_deployment(request: Request, deployment_id: str) -> JsonResponse:
    principal = authenticate(request)
    return ok(_deployments(request).get(deployment_id, principal.account))


@router.post("/deployments/{deployment_id}/stop")
async def stop_deployment(request: Request, deployment_id: str) -> JsonResponse:
    """Extension: stop a deployment (on_stop, then its open orders are canceled)."""
    principal = authenticate(request, "trade")
    return ok(await _deployments(request).stop(deployment_id, principal.account))


@router.get("/deployments/{deployment_id}/logs")
async def deployment_logs(request: Request, deployment_id: str) -> JsonResponse:
    """Extension: log lines after ?since= (a sequence number; 0 = from the oldest kept)."""
    principal = authenticate(request)
    since = int_param(request, "since", 0, 0, 2**62)
    limit = int_param(request, "limit", 1000, 1, 1000)
    return ok(_deployments(request).logs(deployment_id, principal.account, since, limit))


@router.get("/{strategy_id}")
async def get_strategy(request: Request, strategy_id: str) -> JsonResponse:
    """Extension: one strategy and its parameters."""
    authenticate(request)
    return ok(_deployments(request).registry.get(strategy_id))


@router.delete("/{strategy_id}")
async def remove_strategy(request: Request, strategy_id: str) -> JsonResponse:
    """Extension: remove a user strategy (not a built-in; none of its deployments running)."""
    authenticate(request, "trade")
    return ok(_deployments(request).remove_strategy(strategy_id))


@router.post("/{strategy_id}/deploy", status_code=201)
async def deploy(request: Request, strategy_id: str) -> JsonResponse:
    principal = authenticate(request, "trade")
    body = await json_object(request, DEPLOY_FIELDS)
    deployment = await _deployments(request).deploy(
        principal.account,
        strategy_id,
        body.get("exchange"),
        body.get("symbol"),
        body.get("params"),
    )
    return ok(deployment, 201)
