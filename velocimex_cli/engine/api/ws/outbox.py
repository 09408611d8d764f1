"""A bounded, conflating per-connection send queue.

Frames are already-serialised text, shared by every connection that receives them. A frame put
under a conflation key (the latest ticker of an instrument, a pending book snapshot) replaces the
older unsent one in place, so those are bounded by the number of instruments; other frames
(trades, book deltas, order updates) count against `limit`, and `put` refuses them when full so
the caller can fall back to conflation (resnapshot a book) or close a hopeless consumer.
A lazy item (a callable) is rendered at send time, e.g. a book snapshot that must match the book
at the moment it leaves.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable

Item = str | Callable[[], str | None]
CONTROL_LIMIT = 64


class Outbox:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        # Keys: a serial (a plain frame), ("control", serial) or ("latest", key).
        self._items: OrderedDict[int | tuple[str, Hashable], Item] = OrderedDict()
        self._bounded = 0
        self._control = 0
        self._serial = 0
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, frame: Item) -> bool:
        """Queue a frame that must not be merged; False (and nothing queued) when full."""
        if self.closed:
            return False
        if self._bounded >= self.limit:
            self.dropped += 1
            return False
        self._serial += 1
        self._items[self._serial] = frame
        self._bounded += 1
        self._ready.set()
        return True

    def put_control(self, frame: Item) -> bool:
        """Queue a reply to the client, outside the data bound; False when CONTROL_LIMIT
        replies are already waiting (a client that sends but never reads)."""
        if self.closed:
            return False
        if self._control >= CONTROL_LIMIT:
            return False
        self._serial += 1
        self._items[("control", self._serial)] = frame
        self._control += 1
        self._ready.set()
        return True

    def put_latest(self, key: Hashable, frame: Item) -> None:
        """Queue a frame that replaces any unsent frame with the same key (keeping its place)."""
        if self.closed:
            return
        self._items[("latest", key)] = frame
        self._ready.set()

    def drop_latest(self, unwanted: Callable[[Hashable], bool]) -> None:
        """Forget unsent conflated frames whose key is `unwanted` (e.g. after unsubscribing)."""
        for key in [k for k in self._items if isinstance(k, tuple) and k[0] == "latest"]:
            if unwanted(key[1]):
                del self._items[key]

    def close(self) -> None:
        """Stop: unsent frames are discarded (the connection is about to be closed)."""
        self.closed = True
        self._items.clear()
        self._bounded = self._control = 0
        self._ready.set()

    async def wait(self) -> bool:
        """Wait until there is something to send; False once closed and drained."""
        while not self._items:
            if self.closed:
                return False
            self._ready.clear()
            await self._ready.wait()
        return True

    def pop(self) -> Item:
        key, item = self._items.popitem(last=False)
        if isinstance(key, int):
            self._bounded -= 1
        elif key[0] == "control":
            self._control -= 1
        return item
