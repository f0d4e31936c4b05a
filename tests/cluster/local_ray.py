"""A real Ray cluster on this machine: a head node and a second node, each its own raylet, started
with ``ray start`` as a user would, and stopped by killing exactly the processes it started.

Three facts of Ray 2.60 shape it: ``ray start --head`` turns token authentication on when
``~/.ray/auth_token`` exists but a joining node does not, so every node and driver here shares a token
of its own (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN_PATH``); workers run in the folder ``ray start``
ran in (a temporary folder here, so a relative path sent to them fails loudly); and ``ray stop``
ends every Ray process of the machine, so the cluster is stopped by its own process tree instead: every
process whose command line names its private temp folder, and their descendants.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = [sys.executable, "-m", "ray.scripts.scripts"]


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every process we can see."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out[int(name)] = (ppid, cmd)
    return out


class LocalRayCluster:
    def __init__(self, nodes: int = 2, cpus_per_node: int = 1) -> None:
        self.nodes, self.cpus_per_node = nodes, cpus_per_node
        # short: Ray's unix sockets live under it (108-byte limit)
        self.root = Path(tempfile.mkdtemp(prefix="ybray-", dir="/tmp"))
        self.token = self.root / "token"
        self.token.write_text(secrets.token_hex(32))
        base = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        self.env = {
            **base,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.address = ""

    def _ray(self, *args: str) -> None:
        done = subprocess.run([*RAY, *args], env=self.env, cwd=self.root, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"ray {' '.join(args[:2])} failed: {done.stderr[-2000:]}")

    def start(self) -> LocalRayCluster:
        try:
            common = ["--num-cpus", str(self.cpus_per_node), "--disable-usage-stats"]
            self._ray("start", "--head", "--port", "0", "--temp-dir", str(self.root / "t"), *common,
                      "--include-dashboard", "false")  # fmt: skip
            self.address = (self.root / "t" / "ray_current_cluster").read_text().strip()
            for _ in range(self.nodes - 1):
                self._ray("start", "--address", self.address, *common)
            self.wait_for_nodes(self.nodes)
        except BaseException:
            self.stop()
            raise
        return self

    def driver_env(self) -> dict[str, str]:
        """The environment of a driver (the yumebench CLI) that runs on this cluster."""
        return {**self.env, "RAY_ADDRESS": self.address}

    def wait_for_nodes(self, count: int, timeout: float = 60.0) -> None:
        probe = "import ray; ray.init(logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(
                [sys.executable, "-c", probe], env=self.driver_env(), capture_output=True, text=True, timeout=60
            )
            if done.returncode == 0 and int(done.stdout.split()[-1]) >= count:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not reach {count} nodes: {done.stdout} {done.stderr[-500:]}")
            time.sleep(1)

    def own_processes(self) -> dict[int, str]:
        """The cluster's processes: those naming its temp folder, and all their descendants."""
        procs = _processes()
        marker = str(self.root)
        mine = {pid for pid, (_, cmd) in procs.items() if marker in cmd and pid != os.getpid()}
        grew = True
        while grew:
            children = {pid for pid, (ppid, _) in procs.items() if ppid in mine and pid not in mine}
            mine |= children
            grew = bool(children)
        return {pid: procs[pid][1] for pid in mine}

    def kill_one(self, title: str) -> int | None:
        """SIGKILL one cluster process whose command line (Ray's process title) contains ``title``."""
        for pid, cmd in sorted(self.own_processes().items()):
            if title in cmd:
                os.kill(pid, signal.SIGKILL)
                return pid
        return None

    def stop(self) -> list[int]:
        """End the cluster's own processes (TERM, then KILL); returns any that survived."""
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in self.own_processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self._alive():
                time.sleep(0.2)
        left = self._alive()
        shutil.rmtree(self.root, ignore_errors=True)
        return left

    def _alive(self) -> list[int]:
        alive = []
        for pid in self.own_processes():
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":  # a zombie has exited; only its parent's wait() is missing
                alive.append(pid)
        return alive

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
