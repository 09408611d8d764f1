"""Strategy deployments on a node (placeholder until the worker protocol lands)."""

from __future__ import annotations

from typing import Any


class Deployments:
    def __init__(self, node: Any) -> None:
        self.node = node

    def restore(self) -> None:
        pass

    async def run(self) -> None:
        pass

    def settle(self) -> None:
        pass

    def shutdown(self) -> None:
        pass
