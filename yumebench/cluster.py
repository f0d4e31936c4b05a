"""Connecting to Ray, for ``data build --backend ray`` and ``bench run --backend ray``.

The cluster is the one ``RAY_ADDRESS`` names (``ray start --head`` prints it); without it a private
single-machine Ray starts for the run and stops after it. Ray workers run in the folder where ``ray
start`` ran, so everything sent to them is an absolute path (the callers resolve them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


class ClusterError(RuntimeError):
    """Ray is missing or the cluster cannot be reached; one line, naming the address."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("the ray backend needs Ray: pip install 'yumebench[ray]'") from None
    return ray


@contextlib.contextmanager
def connected(workers: int) -> Iterator[object]:
    """Ray, connected: to ``$RAY_ADDRESS`` when set (left running afterwards), else to a local Ray with
    ``workers`` CPUs started here and stopped on exit. A Ray already initialised by the caller is used
    as it is."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        _reachable_or_fail(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except Exception as e:  # ConnectionError, auth-token mismatches, timeouts: all end the run here
        where = f"RAY_ADDRESS={address}" if address else "a local Ray"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ClusterError(f"cannot start or reach {where}: {first}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _reachable_or_fail(address: str, timeout_s: float = 10.0) -> None:
    """A HOST:PORT address must accept a connection within seconds; Ray itself would retry for minutes
    before giving up. Other forms (auto, ray://) are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ClusterError(f"cannot reach RAY_ADDRESS={address}: {e.strerror or type(e).__name__}") from None


def cluster_cpus(ray) -> int:
    return int(ray.cluster_resources().get("CPU", 1))


def cluster_gpus(ray) -> int:
    return int(ray.cluster_resources().get("GPU", 0))
