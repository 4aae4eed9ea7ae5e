"""SIGTERM handled like Ctrl-C, for the length of a block, and put back as it was afterwards."""
from __future__ import annotations

import contextlib
import signal
import threading


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside the block SIGTERM raises KeyboardInterrupt in the main thread, so `kill` (a service manager,
    a CI timeout) stops a command the way Ctrl-C does: partial results kept, exit 130. Outside the main
    thread (where signal handlers cannot be set) it does nothing; the previous handler is always restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def interrupts_deferred():
    """Inside the block SIGINT and SIGTERM are held back (a save that must finish); yields a list that
    holds the signals that arrived. The old handlers are restored afterwards."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def hold(signum, frame):
        got.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
