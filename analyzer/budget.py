"""Limits that keep one hostile file from hanging, crashing or exhausting a run.

- Every file is analysed in its own thread with a large stack and a raised recursion limit,
  so LibCST's recursive traversals survive any nesting the engine lets through (the engine
  refuses deeper nesting up front, see `analyzer.engine.parse`).
- A per-file wall-clock budget (`timeout`, default 10 s): when it runs out, `BudgetExceeded`
  is raised inside the analysis thread at its next Python step; if the thread does not stop
  shortly after, it is abandoned (a daemon thread) and the run goes on. The budget cannot
  interrupt a call into C that holds the GIL (CPython's or LibCST's parser); the engine
  refuses the inputs known to make those slow, and worker processes add a hard limit
  (`hard_limit`) that ends the process, which `analyzer.api` survives.
- Files larger than `MAX_FILE_BYTES` are not analysed at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
# Open WebUI stores a function's code in one database row; real actions are a few kB.
MAX_FILE_BYTES = 10 * 1024 * 1024
# LibCST needs roughly ten Python frames per level of nesting; the engine caps the depth of
# the trees it hands to rules (engine.MAX_TREE_DEPTH), and this limit leaves room for rules
# that recurse themselves. 256 MiB of thread stack holds it with a wide margin (a Python
# frame that re-enters C costs well under 2 kB of C stack on CPython 3.10-3.13).
RECURSION_LIMIT = 50_000
STACK_BYTES = 256 * 1024 * 1024
# After the budget runs out: how long to wait for the analysis thread to stop.
GRACE_SECONDS = 2.0


class BudgetExceeded(BaseException):
    """The per-file budget ran out. A BaseException so that a rule's `except Exception`
    cannot swallow it."""


_local = threading.local()
_limit_lock = threading.Lock()
_limit_users = 0
_saved_limit = 0
_stack_lock = threading.Lock()


def deadline() -> float | None:
    """The `time.monotonic()` deadline of the analysis running in this thread, if any."""
    value = getattr(_local, "deadline", None)
    return value if isinstance(value, float) else None


def expect(seconds: float) -> None:
    """Give up now when a step estimated to take `seconds` cannot finish in the budget.

    Used before steps that run in C and so cannot be interrupted once started.
    """
    end = deadline()
    if end is not None and time.monotonic() + seconds > end:
        raise BudgetExceeded


@contextlib.contextmanager
def recursion_headroom() -> Iterator[None]:
    """Raise the interpreter's recursion limit while at least one analysis runs."""
    global _limit_users, _saved_limit
    with _limit_lock:
        if _limit_users == 0:
            _saved_limit = sys.getrecursionlimit()
            if _saved_limit < RECURSION_LIMIT:
                sys.setrecursionlimit(RECURSION_LIMIT)
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                sys.setrecursionlimit(_saved_limit)


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in another thread at its next Python step (None clears a pending one)."""
    api = getattr(ctypes, "pythonapi", None)
    if api is None:  # not CPython: the thread is abandoned instead
        return
    # A plain None becomes a NULL pointer (clear); py_object(None) would raise `None`.
    api.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class _Run:
    """One analysis in its own thread; interrupting and finishing are race-free."""

    def __init__(self, fn: Callable[[], object], timeout: float | None) -> None:
        self.fn = fn
        self.timeout = timeout
        self.lock = threading.Lock()
        self.running = True
        self.interrupted = False
        self.value: object = None
        self.error: BaseException | None = None
        self.ident: int | None = None

    def target(self) -> None:
        self.ident = threading.get_ident()
        if self.timeout is not None:
            _local.deadline = time.monotonic() + self.timeout
        try:
            try:
                value = self.fn()
            finally:
                # After this block nobody injects again, and a pending injection is cleared:
                # an interrupt can only surface inside the `try`, never in threading's code.
                with self.lock:
                    self.running = False
                    if self.interrupted:
                        _set_async_exc(self.ident, None)
        except BaseException as error:
            self.error = error
        else:
            self.value = value

    def interrupt(self) -> None:
        with self.lock:
            if self.running and not self.interrupted and self.ident is not None:
                self.interrupted = True
                _set_async_exc(self.ident, BudgetExceeded)


def _start(run: _Run) -> threading.Thread | None:
    """Start the analysis thread with a large stack; None when no thread can be started."""
    with _stack_lock:
        for size in (STACK_BYTES, 0):
            try:
                previous = threading.stack_size(size)
            except (ValueError, RuntimeError):
                continue
            try:
                thread = threading.Thread(target=run.target, name="owui-lint-file", daemon=True)
                thread.start()
                return thread
            except RuntimeError:  # out of threads or memory for the stack
                continue
            finally:
                threading.stack_size(previous)
    return None


def run_isolated(fn: Callable[[], T], timeout: float | None) -> T:
    """Run `fn` in a fresh thread with a large stack; its result, or its exception.

    Raises `BudgetExceeded` when `timeout` seconds pass first (None or 0: no budget).
    """
    timeout = timeout or None
    run = _Run(fn, timeout)
    with recursion_headroom():
        thread = _start(run)
        if thread is None:  # degrade: analyse here, without the budget
            return fn()
        thread.join(timeout)
        if thread.is_alive():
            run.interrupt()
            thread.join(GRACE_SECONDS)
            if thread.is_alive():
                raise BudgetExceeded  # abandoned: it is a daemon thread and cannot block exit
    if run.error is not None:
        raise run.error
    return run.value  # type: ignore[return-value]


_devnull: int | None = None


def hard_seconds(timeout: float) -> float | None:
    """The hard limit for a worker process analysing one file under budget `timeout`."""
    return timeout * 3 + 30 if timeout else None


@contextlib.contextmanager
def hard_limit(seconds: float | None) -> Iterator[None]:
    """End this process if the block runs longer than `seconds` (worker processes only).

    The last resort against a C call that never returns: `faulthandler`'s watchdog runs
    without the GIL. The parent notices the dead worker and reports the file.
    """
    global _devnull
    if not seconds:
        yield
        return
    if _devnull is None:
        _devnull = os.open(os.devnull, os.O_WRONLY)
    faulthandler.dump_traceback_later(seconds, exit=True, file=_devnull)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
