"""Strategy routes: the strategies an engine can deploy, user files, deployments.

GET /v1/strategies and POST /v1/strategies/{id}/deploy are the reference's; the rest are
documented extensions (docs/api.md). A caller sees and controls only the deployments and the
user strategies of its own account (built-ins are everyone's); adding, replacing and removing
strategy code needs a key with the `strategies` permission, not just `trade`. Fixed paths
(`/deployments...`) are declared before `/{strategy_id}`: the router tries paths in the order
they are declared.
"""

from __future__ import annotations

import asyncio
from typing import Any

from velocimex_cli.engine import audit
from velocimex_cli.engine.api.operations import Call, Operation, Param, Success
from velocimex_cli.engine.api.payloads import ID_PATTERN, exchange_text, name_text, symbol_text
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.wire.errors import RateLimitExceeded

DEPLOYMENT_STATES = ("running", "stopping", "completed", "stopped", "failed")
STRATEGY_ID = Param(
    "strategy_id",
    name_text("twap", ID_PATTERN, "strategy_id"),
    "The strategy's id, as listed by GET /v1/strategies.",
)
DEPLOYMENT_ID = Param(
    "deployment_id",
    name_text("d-1", ID_PATTERN, "deployment_id"),
    "The deployment's id, as listed by GET /v1/strategies/deployments.",
)
DEPLOY_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["exchange", "symbol"],
    "properties": {
        "exchange": exchange_text(),
        "symbol": symbol_text(),
        "params": {"type": "object", "maxProperties": 100},
    },
}
ADD_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source"],
    "properties": {
        "source": {
            "type": "string",
            "minLength": 1,
            "maxLength": 60_000,
            "description": "The strategy file's text.",
        },
        "filename": {"type": ["string", "null"], "maxLength": 255},
        "replace": {"type": "boolean"},
    },
}
STRATEGY: dict[str, Any] = {"$ref": "#/components/schemas/Strategy"}
DEPLOYMENT: dict[str, Any] = {"$ref": "#/components/schemas/Deployment"}


def _deployments(call: Call) -> Any:
    return call.runtime.deployments


async def list_strategies(call: Call) -> JsonResponse:
    return ok({"strategies": _deployments(call).registry.list(call.account)})


async def add_strategy(call: Call) -> JsonResponse:
    body = call.body or {}
    deployments = _deployments(call)
    source, filename = body.get("source"), body.get("filename")
    # Refused where strategy code cannot be confined (the first call probes: off the loop).
    await asyncio.to_thread(deployments.uploads.admit_user_code, _permissions(call))
    try:
        with call.runtime.upload_checks.slot():
            described = await asyncio.to_thread(deployments.uploads.check_source, source, filename)
    except RateLimitExceeded as exc:
        retry_after = str(exc.details["retry_after"])
        return JsonResponse(exc.to_body(), 429, headers={"Retry-After": retry_after})
    replace = bool(body.get("replace", False))
    added = deployments.add_strategy(source, described, replace, account=call.account)
    # Replacing needs a strategy of that id in the caller's account (else NOT_FOUND above).
    audit.record_call(call, f"strategy.{'replace' if replace else 'add'}", added["strategy_id"])
    return ok(added, 201)


async def list_deployments(call: Call) -> JsonResponse:
    found = _deployments(call).list(call.account, call.query["state"])
    return ok({"deployments": found})


async def get_deployment(call: Call) -> JsonResponse:
    return ok(_deployments(call).get(call.path["deployment_id"], call.account))


async def stop_deployment(call: Call) -> JsonResponse:
    return ok(await _deployments(call).stop(call.path["deployment_id"], call.account))


async def deployment_logs(call: Call) -> JsonResponse:
    query = call.query
    found = _deployments(call).logs(
        call.path["deployment_id"], call.account, query["since"], query["limit"]
    )
    return ok(found)


async def get_strategy(call: Call) -> JsonResponse:
    return ok(_deployments(call).registry.get(call.account, call.path["strategy_id"]))


async def remove_strategy(call: Call) -> JsonResponse:
    removed = _deployments(call).remove_strategy(call.path["strategy_id"], account=call.account)
    audit.record_call(call, "strategy.remove", removed["strategy_id"])
    return ok(removed)


async def deploy(call: Call) -> JsonResponse:
    body = call.body or {}
    deployment = await _deployments(call).deploy(
        call.account,
        call.path["strategy_id"],
        body.get("exchange"),
        body.get("symbol"),
        body.get("params"),
        _permissions(call),
    )
    return ok(deployment, 201)


def _permissions(call: Call) -> tuple[str, ...]:
    """The caller's key's permissions (decides whether unconfined user code may run)."""
    return tuple(call.principal.permissions) if call.principal is not None else ()


_UNKNOWN_STRATEGY = "No built-in and no user strategy of this account has this id (NOT_FOUND)."
_UNKNOWN_DEPLOYMENT = "No such deployment of this account (NOT_FOUND)."

OPERATIONS = (
    Operation(
        "GET",
        "/v1/strategies",
        list_strategies,
        "List strategies",
        "strategies",
        (
            Success(
                200,
                "The strategies it can deploy.",
                {
                    "type": "object",
                    "required": ["strategies"],
                    "properties": {"strategies": {"type": "array", "items": STRATEGY}},
                },
            ),
        ),
    ),
    Operation(
        "POST",
        "/v1/strategies",
        add_strategy,
        "Add a user strategy file",
        "strategies",
        (Success(201, "The strategy, as listed.", STRATEGY),),
        permission="strategies",
        body=ADD_REQUEST,
        errors={
            404: "`replace` is true and this account has no user strategy of that id (NOT_FOUND).",
            429: "As many uploads as the engine checks at once are being checked"
            " (RATE_LIMIT_EXCEEDED); see Retry-After.",
        },
        description="The strategy belongs to the key's account: no other account sees,"
        " deploys, replaces or removes it.",
        extension=True,
    ),
    Operation(
        "GET",
        "/v1/strategies/deployments",
        list_deployments,
        "The caller's deployments",
        "strategies",
        (
            Success(
                200,
                "The deployments of this account.",
                {
                    "type": "object",
                    "required": ["deployments"],
                    "properties": {"deployments": {"type": "array", "items": DEPLOYMENT}},
                },
            ),
        ),
        query=(
            Param(
                "state",
                {"type": "string", "enum": list(DEPLOYMENT_STATES)},
                "Only deployments in this state.",
            ),
        ),
        extension=True,
    ),
    Operation(
        "GET",
        "/v1/strategies/deployments/{deployment_id}",
        get_deployment,
        "One deployment",
        "strategies",
        (Success(200, "The deployment.", DEPLOYMENT),),
        path_params=(DEPLOYMENT_ID,),
        errors={404: _UNKNOWN_DEPLOYMENT},
        extension=True,
    ),
    Operation(
        "POST",
        "/v1/strategies/deployments/{deployment_id}/stop",
        stop_deployment,
        "Stop a deployment (on_stop, then its open orders are canceled)",
        "strategies",
        (Success(200, "The deployment, stopped.", DEPLOYMENT),),
        permission="trade",
        path_params=(DEPLOYMENT_ID,),
        errors={404: _UNKNOWN_DEPLOYMENT},
        extension=True,
    ),
    Operation(
        "GET",
        "/v1/strategies/deployments/{deployment_id}/logs",
        deployment_logs,
        "A deployment's log lines",
        "strategies",
        (
            Success(
                200, "Log lines after `since`.", {"$ref": "#/components/schemas/DeploymentLogs"}
            ),
        ),
        path_params=(DEPLOYMENT_ID,),
        query=(
            Param(
                "since",
                {"type": "integer", "minimum": 0, "maximum": 2**62, "default": 0},
                "Lines after this sequence number (0: from the oldest kept).",
            ),
            Param(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000},
                "At most this many lines.",
            ),
        ),
        errors={404: _UNKNOWN_DEPLOYMENT},
        extension=True,
    ),
    Operation(
        "GET",
        "/v1/strategies/{strategy_id}",
        get_strategy,
        "One strategy and its parameters",
        "strategies",
        (Success(200, "The strategy.", STRATEGY),),
        path_params=(STRATEGY_ID,),
        errors={404: _UNKNOWN_STRATEGY},
        extension=True,
    ),
    Operation(
        "DELETE",
        "/v1/strategies/{strategy_id}",
        remove_strategy,
        "Remove a user strategy (not a built-in; none of its deployments running)",
        "strategies",
        (Success(200, "The strategy removed.", {"type": "object"}),),
        permission="strategies",
        path_params=(STRATEGY_ID,),
        errors={404: _UNKNOWN_STRATEGY},
        extension=True,
    ),
    Operation(
        "POST",
        "/v1/strategies/{strategy_id}/deploy",
        deploy,
        "Deploy a strategy",
        "strategies",
        (Success(201, "The deployment.", DEPLOYMENT),),
        permission="trade",
        path_params=(STRATEGY_ID,),
        body=DEPLOY_REQUEST,
        errors={404: _UNKNOWN_STRATEGY},
    ),
)
