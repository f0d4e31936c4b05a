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


def use_threads(count: int) -> None:
    """Cap this process's compute threads (OpenCV, torch intra-op) at ``count``: a worker that owns one
    CPU must not spread over all of them, or N workers fight over the cores and scale poorly."""
    import sys

    import cv2

    count = max(1, count)
    cv2.setNumThreads(count)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # libraries imported later
        os.environ[name] = str(count)
    if "torch" in sys.modules:  # torch read the variables at import: tell it directly (and never import it here)
        sys.modules["torch"].set_num_threads(count)


def _init_worker(parent: int, threads: int) -> None:
    _watch_parent(parent)
    use_threads(threads)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-context pool of ``workers`` processes that exit when this process dies, each with its
    share of the machine's cores."""
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=(os.getpid(), threads),
    )
