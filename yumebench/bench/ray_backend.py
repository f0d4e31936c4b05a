"""``bench run --backend ray``: groups of videos scored by Ray actors, results streamed to the driver.

Each actor builds its dimensions once (backbones load once per actor, on its own GPU with
``--gpus-per-worker``) and scores one group at a time with the same ``score_group`` as the local
backend, so a video is decoded once for all its dimensions and CPU scores are identical. The driver
hands out groups as actors become free and owns everything written: the resumable cache and the
results. A dead actor (its process killed, its node gone) is replaced and its group goes back to the
queue: a group's results reach the driver once or never, so nothing is lost or scored twice. A group
whose actor dies twice is split into single videos, and a single video that kills two actors is
reported as failed instead of taking the run down.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from yumebench.cluster import ClusterError, cluster_cpus, cluster_gpus, connected

Group = list[tuple]  # (item, absolute video path, missing dimensions, cache keys), as the runner queues them


class _Scorer:
    """The actor body: the dimensions, built once, and the runner's group scorer."""

    def __init__(self, names: list[str], kwargs: dict) -> None:
        import ray

        from yumebench.bench.runner import _worker_dims
        from yumebench.worker_pool import use_threads

        use_threads(int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
        self.kwargs = kwargs
        self.dims = _worker_dims(names, kwargs)

    def where(self) -> str:
        import ray

        return f"{ray.util.get_node_ip_address()}:{os.getpid()}"

    def score(self, jobs: list[tuple]) -> list[dict]:
        from yumebench.bench.runner import score_group

        return score_group(jobs, self.kwargs, self.dims)


@dataclass
class RayRunStats:
    workers: int = 0
    actors_started: int = 0
    actors_replaced: int = 0
    groups_retried: int = 0
    videos_given_up: int = 0
    per_worker: Counter = field(default_factory=Counter)  # videos returned, by "node-ip:pid"


def _retryable(ray) -> tuple[type, ...]:
    ex = ray.exceptions
    kinds = [ex.RayActorError, ex.WorkerCrashedError, ex.ObjectLostError]
    kinds += [getattr(ex, n) for n in ("ActorUnavailableError", "NodeDiedError", "OwnerDiedError") if hasattr(ex, n)]
    return tuple(kinds)


def score_on_ray(
    groups: list[Group],
    names: list[str],
    kwargs: dict,
    workers: int,
    gpus_per_worker: float,
    on_result: Callable[[Group, list[dict]], None],
    on_progress: Callable[[RayRunStats], None] | None = None,
) -> RayRunStats:
    """Score ``groups`` on ``workers`` actors; ``on_result(group, results)`` runs on the driver, in
    completion order, once per group that finished."""
    stats = RayRunStats()
    with connected(workers) as ray:
        workers = _fit_workers(ray, workers, gpus_per_worker)
        stats.workers = workers
        actor_class = ray.remote(_Scorer).options(
            num_cpus=1, num_gpus=gpus_per_worker or 0, max_restarts=0, scheduling_strategy="SPREAD"
        )
        retryable = _retryable(ray)
        actors: dict[int, object] = {}
        names_of: dict[int, str] = {}
        pending: dict[object, tuple[int, Group | None]] = {}  # ref -> (slot, group); None: readiness check

        def start(slot: int) -> None:
            actors[slot] = actor_class.remote(names, kwargs)
            stats.actors_started += 1
            pending[actors[slot].where.remote()] = (slot, None)

        for slot in range(workers):
            start(slot)
        queue: deque[Group] = deque(groups)
        deaths: Counter = Counter()  # by the ids of a group's videos
        idle: deque[int] = deque()
        failures_in_a_row, last_error = 0, ""
        while queue or any(g is not None for _, g in pending.values()):
            while queue and idle:
                slot, group = idle.popleft(), queue.popleft()
                jobs = [(item, video, missing) for item, video, missing, _ in group]
                pending[actors[slot].score.remote(jobs)] = (slot, group)
            if not pending:
                raise ClusterError("no Ray worker could start (see the cluster's logs)")
            ready, _ = ray.wait(list(pending), num_returns=1)
            slot, group = pending.pop(ready[0])
            try:
                value = ray.get(ready[0])
            except retryable as e:
                failures_in_a_row += 1
                last_error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                if failures_in_a_row > 4 * workers:  # not a bad video or node: the actors cannot run at all
                    raise ClusterError(
                        f"Ray workers keep dying ({failures_in_a_row} in a row); last: {last_error}"
                    ) from None
                _replace(ray, actors, slot, start, stats)
                if group is not None:
                    _requeue(group, queue, deaths, stats, on_result, last_error)
                continue
            failures_in_a_row = 0
            if group is None:  # the actor is up: it takes work from now on
                names_of[slot] = value
                idle.append(slot)
                continue
            on_result(group, value)
            stats.per_worker[names_of.get(slot, str(slot))] += len(group)
            idle.append(slot)
            if on_progress is not None:
                on_progress(stats)
        for actor in actors.values():  # actors still waiting for resources never got work
            ray.kill(actor)
    return stats


def _fit_workers(ray, workers: int, gpus_per_worker: float) -> int:
    """As many actors as asked, but never more than the cluster can hold at once."""
    if gpus_per_worker:
        gpus = cluster_gpus(ray)
        if gpus < gpus_per_worker:
            raise ClusterError(f"--gpus-per-worker {gpus_per_worker:g}: the cluster has {gpus} GPUs")
        return max(1, min(workers, int(gpus // gpus_per_worker)))
    return max(1, min(workers, cluster_cpus(ray)))


def _replace(ray, actors: dict, slot: int, start: Callable[[int], None], stats: RayRunStats) -> None:
    try:
        ray.kill(actors[slot])
    except Exception:  # already gone with its node
        pass
    stats.actors_replaced += 1
    start(slot)


def _requeue(
    group: Group,
    queue: deque,
    deaths: Counter,
    stats: RayRunStats,
    on_result: Callable[[Group, list[dict]], None],
    error: str,
) -> None:
    """A group whose actor died goes back to the front; after two deaths it is split into single
    videos, and a single video that killed two actors is reported as failed."""
    stats.groups_retried += 1
    ids = tuple(item.id for item, _, _, _ in group)
    deaths[ids] += 1
    if deaths[ids] < 2:
        queue.appendleft(group)
    elif len(group) > 1:
        queue.extendleft([job] for job in reversed(group))
    else:
        stats.videos_given_up += 1
        on_result(group, [{"id": ids[0], "error": f"{ids[0]}: a Ray worker died twice while scoring it ({error})"}])
