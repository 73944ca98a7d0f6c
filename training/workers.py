"""Stopping worker processes together with the process that started them.

Why: Python's default SIGTERM handler ends the interpreter on the spot, so joblib's loky workers and a
``ProcessPoolExecutor``'s workers are never told to stop; two 1 GB fitting workers of a killed `feedback
train` kept running for 40 minutes. Ctrl-C already stops them, because the KeyboardInterrupt unwinds through
the pool, which then terminates its workers. Turning SIGTERM (``kill``, ``timeout``, a container stop) into
the same KeyboardInterrupt gives it the same clean-up.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while worker processes were running."""


def _raise_terminated(signum, _frame) -> None:
    raise Terminated(f"stopped by signal {signum}")


@contextmanager
def sigterm_stops_workers() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) in the main thread, so pools
    started in the block terminate their workers as on Ctrl-C. Outside the main thread signal handlers cannot be
    set, and the block runs unchanged. The previous handler is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
