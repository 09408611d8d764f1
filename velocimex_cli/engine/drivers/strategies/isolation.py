"""A strategy in its own worker process: it can raise, loop forever or eat memory, and the
engine goes on matching.

Each worker is a fresh `python -m` interpreter on a socket pair (see WorkerProcess). The node
talks to it with at most one message in flight each way: it sends a hook, and the worker
answers with context calls (each answered with a reply or an API error to raise) until it says
the hook is done or failed. The messages are declared in protocol.py: msgspec Structs encoded
with MessagePack behind their 4-byte length (`Channel`). The strategy shares the worker's
socket and may write anything to it, so the node decodes what arrives only into those declared
types, in bounded frames, and never unpickles or evaluates it: a frame that does not decode,
a length header above the bound, or a message out of turn is a protocol violation that ends
the deployment (or refuses the upload being checked), never an exception in the engine.

The node never blocks on a worker: it reads what has arrived when the socket is readable, in
one system call, and writes only messages the worker is waiting for (one hook, then replies to
its calls), so the socket never fills. A hook that does not finish within its budget gets its
process killed; the worker's address space is capped (RLIMIT_AS), so unbounded allocation ends
in MemoryError (reported) or the worker's death (reported).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from velocimex_cli.engine.drivers.strategies import sandbox
from velocimex_cli.engine.drivers.strategies.protocol import (
    MAX_FROM_WORKER,
    MAX_TO_WORKER,
    MAX_TRACEBACK,
    RUN,
    Decoder,
    ProtocolViolation,
    Run,
    encode_into,
)
from velocimex_cli.engine.drivers.strategies.sandbox_confine import CONFINE_FAILED_EXIT, confine
from velocimex_cli.engine.drivers.strategies.sandbox_limits import hard_limits
from velocimex_cli.engine.drivers.strategies.sandbox_syscalls import ConfinementError

HEADER = struct.Struct("!I")  # a message's length, before its MessagePack
CHUNK = 1 << 16  # bytes read per system call
PACKAGE_DIR = str(Path(__file__).resolve().parents[3])
T = TypeVar("T")
CONFINED, UNCONFINED = "confined", "unconfined"  # the worker's last argument
DEFAULT_MEMORY_BYTES = 512 * 2**20
DEFAULT_CPU_SECONDS = 3600


class Channel:
    """One end of a worker's socket: protocol messages (see protocol.py), each MessagePack
    behind its 4-byte length. Reads take whatever has arrived in one system call and keep it
    until a whole message is there; `fill` and `poll` never block, `receive` waits for a whole
    message. A length header above `max_frame` breaks the channel at once, before any of that
    message is kept: `receive` then raises ProtocolViolation, as it does for a frame that does
    not decode into the types asked for."""

    __slots__ = ("_broken", "_buffer", "_ended", "_max_frame", "_out", "_poller", "_socket")

    def __init__(self, sock: socket.socket, max_frame: int = MAX_FROM_WORKER) -> None:
        self._socket = sock
        self._buffer = bytearray()
        self._out = bytearray()  # reused for each message sent
        self._ended = False  # the other end closed its side
        self._broken: str | None = None  # why the other end's bytes are no protocol
        self._max_frame = max_frame
        self._poller: Any = None  # select.poll, made on the first wait

    def fileno(self) -> int:
        return self._socket.fileno()

    def send(self, message: Any) -> None:
        """Send one protocol message (a protocol.Message)."""
        out = self._out
        encode_into(message, out, HEADER.size)
        HEADER.pack_into(out, 0, len(out) - HEADER.size)
        self._socket.sendall(out)

    def send_frame(self, frame: bytes) -> None:
        """Send one message already encoded (protocol.encode)."""
        self._socket.sendall(HEADER.pack(len(frame)) + frame)

    @property
    def pending(self) -> bool:
        """A whole message has arrived and waits for `receive`."""
        buffer = self._buffer
        return (
            len(buffer) >= HEADER.size
            and len(buffer) - HEADER.size >= HEADER.unpack_from(buffer)[0]
        )

    @property
    def buffered(self) -> bool:
        """Some bytes of the other end's next message have arrived."""
        return bool(self._buffer)

    @property
    def broken(self) -> bool:
        """The other end announced a message longer than this channel takes."""
        return self._broken is not None

    @property
    def ended(self) -> bool:
        """The other end closed and every whole message it sent has been received."""
        return self._ended and not self.pending

    def _read(self, flags: int) -> None:
        try:
            chunk = self._socket.recv(CHUNK, flags)
        except BlockingIOError:
            return
        if chunk:
            self._buffer += chunk
            self._check_length()
        else:
            self._ended = True

    def _check_length(self) -> None:
        buffer = self._buffer
        if len(buffer) >= HEADER.size:
            size = HEADER.unpack_from(buffer)[0]
            if size > self._max_frame:
                self._broken = (
                    f"a message of {size} bytes announced (at most {self._max_frame} are taken)"
                )
                self._buffer = bytearray()  # nothing of it is kept, nor read any more

    def fill(self) -> None:
        """Take what has arrived, without waiting (OSError if the socket fails)."""
        if not (self._ended or self._broken):
            self._read(socket.MSG_DONTWAIT)

    def poll(self, timeout: float = 0.0) -> bool:
        """Whether `receive` can return (a message, EOFError or ProtocolViolation) without
        blocking, waiting up to `timeout` seconds for it."""
        if not (self.pending or self._ended or self._broken):
            self.fill()
        deadline = time.monotonic() + timeout
        while not (self.pending or self._ended or self._broken):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._poller is None:
                self._poller = select.poll()
                self._poller.register(self._socket.fileno(), select.POLLIN)
            if self._poller.poll(max(1, int(remaining * 1000))):
                self.fill()
        return True

    def receive(self, decoder: Decoder[T]) -> T:
        """The next message decoded by `decoder` (one of protocol.py's), waiting for it;
        EOFError once the other end closed, ProtocolViolation if what came is not such a
        message."""
        while not self.pending:
            if self._broken is not None:
                raise ProtocolViolation(self._broken)
            if self._ended:
                raise EOFError("the other end of the channel closed")
            self._read(0)
        buffer = self._buffer
        end = HEADER.size + HEADER.unpack_from(buffer)[0]
        frame: memoryview | bytearray
        if end == len(buffer):  # the common case: one message, nothing after it
            self._buffer = bytearray()
            frame = memoryview(buffer)[HEADER.size :]
        else:
            frame = buffer[HEADER.size : end]
            del buffer[:end]
            self._check_length()
        return decoder.decode(frame)

    def close(self) -> None:
        self._socket.close()


class WorkerProcess:
    """The node's handle on one worker: a fresh interpreter (not a fork of the engine, whose
    threads and open database must not be copied; not multiprocessing's spawn, which re-runs
    the host program's main module) connected by a socket pair. The first message names the
    worker function to run and its arguments."""

    def __init__(
        self,
        target: Callable[..., None],
        args: tuple[Any, ...],
        *,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        cpu_seconds: float = DEFAULT_CPU_SECONDS,
        confined: bool | None = None,
    ) -> None:
        """`confined`: the worker confines itself (sandbox.py) before it reads anything; None:
        wherever this machine can. Unconfined, it still gets hard memory and CPU limits. Its
        environment is sandbox.worker_environment() either way: nothing of the engine's."""
        if confined is None:
            confined = sandbox.confinement_available()
        self.confined = confined
        parent, child = socket.socketpair()
        command = [
            sys.executable,
            "-m",
            __name__,
            str(child.fileno()),
            str(os.getpid()),
            str(int(memory_bytes)),
            str(max(1, math.ceil(cpu_seconds))),
            CONFINED if confined else UNCONFINED,
        ]
        try:
            self._process = subprocess.Popen(
                command,
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=sandbox.worker_environment(),
                cwd="/",
                start_new_session=True,  # Ctrl-C in the engine's terminal is the node's
            )
        finally:
            child.close()
        self.channel = Channel(parent, MAX_FROM_WORKER)
        self.channel.send(Run.of(target, args))

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def fileno(self) -> int:
        return self.channel.fileno()

    def send(self, message: Any) -> None:
        self.channel.send(message)

    def poll(self, timeout: float = 0.0) -> bool:
        return self.channel.poll(timeout)

    def receive(self, decoder: Decoder[T]) -> T:
        return self.channel.receive(decoder)

    @property
    def exit_description(self) -> str:
        code = self._process.poll()
        if code is None:
            return "still running"
        if code == CONFINE_FAILED_EXIT:
            return "it could not confine itself, so it ran nothing"
        if code == -signal.SIGXCPU:
            return "killed by SIGXCPU: it used up its CPU time limit"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with code {code}"

    def exit_description_after(self, timeout: float) -> str:
        """How the worker ended, once it has (waiting at most `timeout` seconds)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=timeout)
        return self.exit_description

    def kill(self) -> None:
        """End the worker now (SIGKILL) and reap it. Its whole process group goes, while its
        leader is not reaped yet (so the group's id is still its own); a confined worker's
        PID namespace ends with it as well."""
        if self._process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=2)
        with contextlib.suppress(OSError):
            self.channel.close()


def limit_memory(memory_bytes: int) -> None:
    """Cap this process's address space (Linux, macOS), hard, so it cannot be raised again:
    allocation past it is MemoryError. A worker already capped at start (see main) is left as
    it is (a confined one may not call setrlimit at all)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: no RLIMIT_AS
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY and hard <= memory_bytes:
        return
    with contextlib.suppress(ValueError, OSError):  # refused: the limit set at start stands
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def format_failure(exc: BaseException) -> tuple[str, str]:
    """A one-line message and a bounded traceback of a strategy's exception."""
    message = f"{type(exc).__name__}: {exc}"
    if len(message) > 500:
        message = message[:497] + "..."
    frames = exc.__traceback__
    while frames is not None and frames.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frames = frames.tb_next  # the worker's own frames say nothing about the strategy
    text = "".join(traceback.format_exception(type(exc), exc, frames or exc.__traceback__))
    if len(text) > MAX_TRACEBACK:
        text = "..." + text[-MAX_TRACEBACK:]
    return message, text


WORKER_NICENESS = 5  # on a busy machine, matching everyone's orders comes first


def silence_worker() -> None:
    """A worker ignores Ctrl-C (the node stops it; its output already goes nowhere) and runs
    at a lower CPU priority than the engine."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)


def die_with(parent: int) -> None:
    """End this worker when the engine's process ends, even in the middle of a loop that
    never reads its socket again (Linux; elsewhere the closed socket ends it at its next
    read)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the engine is gone already
        os._exit(0)


def main(argv: list[str]) -> None:
    """`python -m ...isolation FD PARENT_PID [MEMORY CPU confined|unconfined]`: confine this
    worker (or, unconfined, cap its memory and CPU time), then receive the worker function to
    run and run it. Confinement comes first: nothing of the strategy is read before it."""
    fd = int(argv[1])
    if len(argv) > 2:
        die_with(int(argv[2]))
    if len(argv) > 5:
        memory_bytes, cpu_seconds, mode = int(argv[3]), int(argv[4]), argv[5]
        if mode == CONFINED:
            try:
                confine(fd, memory_bytes, cpu_seconds, int(argv[2]))
            except ConfinementError:
                os._exit(CONFINE_FAILED_EXIT)
        else:
            hard_limits(memory_bytes, cpu_seconds, confined=False)
    channel = Channel(socket.socket(fileno=fd), MAX_TO_WORKER)
    try:
        run = channel.receive(RUN)
    except (EOFError, OSError, ProtocolViolation):
        return
    getattr(importlib.import_module(run.module), run.function)(channel, *run.arguments.positional())


if __name__ == "__main__":
    main(sys.argv)
