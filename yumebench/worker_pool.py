"""Process pools whose workers die with their parent.

A ``kill -9`` of ``bench run --workers N`` or ``data build --workers N`` would otherwise leave the N
workers computing forever (nothing tells a spawned worker that its parent is gone). Each worker here
watches its parent's pid and exits as soon as it changes (the orphan is re-parented). Spawned, not
forked: decoders and BLAS pools in the parent are not fork-safe.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

PARENT_POLL_S = 0.5


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-context pool of ``workers`` processes that exit when this process dies."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=_watch_parent, initargs=(os.getpid(),)
    )
