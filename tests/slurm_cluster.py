"""A real Slurm cluster for the tests: slurmctld and one slurmd per node, each in its own network namespace
(the project's own test hosts) on a bridge of this machine, munge for authentication.

Everything it starts is stopped at the end, by pid (and what still runs in its namespaces), even when a
test failed; tests that need it fail, never skip, when it cannot be had (CI must prove the Slurm paths).
See ../shared/notes/engine.md for the traps this avoids (nsenter, not `ip netns exec`; Docker's FORWARD DROP).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine import stop_daemon

START_TIMEOUT = 60
COMMANDS = ("slurmctld", "slurmd", "munged", "sbatch", "nsenter", "ip")


@dataclass
class Cluster:
    conf: Path
    root: Path
    nodes: list[str]
    addresses: dict[str, str]  # node -> address
    namespaces: dict[str, str]  # node (and "ctl") -> network namespace name
    daemons: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """What a client of this cluster needs (sbatch, squeue, ... and the harness)."""
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *argv: str, check: bool = True) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={**os.environ, **self.env})
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
        return done.stdout

    def node_states(self) -> dict[str, str]:
        out = self.run("sinfo", "-h", "-N", "-o", "%N %t", check=False)
        return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)

    def wait_idle(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.node_states()
            if states and all(states.get(node) == "idle" for node in self.nodes):
                return
            time.sleep(0.5)
        raise AssertionError(f"the Slurm nodes did not become idle: {self.node_states()}\n{self.logs()}")

    def set_node(self, node: str, state: str, reason: str = "test", check: bool = True) -> None:
        args = ["scontrol", "update", f"nodename={node}", f"state={state}"]
        self.run(*args, *([f"reason={reason}"] if state.lower() in ("down", "drain") else []), check=check)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.root.glob("*.log")))


def require_slurm() -> None:
    missing = [c for c in COMMANDS if not shutil.which(c)]
    if missing:
        pytest.fail(f"no Slurm here: {', '.join(missing)} missing (run `python3 -m harness.bootstrap --dev --engine`)")
    if os.geteuid() != 0:
        pytest.fail("the test Slurm cluster needs root (network namespaces, slurmd)")


@contextmanager
def running_cluster(root: Path, nodes: int = 2):
    """Yields a Cluster of `nodes` nodes with one CPU each, partition `debug`; torn down on exit."""
    require_slurm()
    root.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid() % 100000}"
    subnet = _free_subnet()
    names = [f"n{i}" for i in range(1, nodes + 1)]
    cluster = Cluster(conf=root / "slurm.conf", root=root, nodes=names,
                      addresses={n: f"{subnet}.{10 + i}" for i, n in enumerate(names, 1)},
                      namespaces={n: f"hs{tag}{n}" for n in ["ctl", *names]})
    with ExitStack() as stack:
        stack.callback(_stop_daemons, cluster)
        _network(stack, cluster, f"hsb{tag}", subnet)
        munge_socket = _munged(stack, cluster)
        cluster.conf.write_text(slurm_conf(cluster, subnet, munge_socket))
        _start(cluster, "slurmctld", ["slurmctld", "-D", "-f", str(cluster.conf)], "ctl")
        for node in names:
            _start(cluster, node, ["slurmd", "-D", "-f", str(cluster.conf), "-N", node], node)
        cluster.wait_idle()
        yield cluster


def slurm_conf(cluster: Cluster, subnet: str, munge_socket: Path) -> str:
    s = cluster.root
    lines = [
        "ClusterName=harness-test", f"SlurmctldHost={socket.gethostname()}({subnet}.10)",
        "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge", "CredType=cred/munge",
        # cred_expire: also how long a requeued job waits before it starts again (default 120 s)
        f"AuthInfo=socket={munge_socket},cred_expire=10", "MpiDefault=none", "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none", "SwitchType=switch/none", "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "ReturnToService=2",
        f"StateSaveLocation={s}/state", f"SlurmdSpoolDir={s}/spool-%n", f"SlurmctldPidFile={s}/slurmctld.pid",
        f"SlurmdPidFile={s}/slurmd-%n.pid", f"SlurmctldLogFile={s}/slurmctld.log", f"SlurmdLogFile={s}/slurmd-%n.log",
        "SlurmctldPort=6817", "SlurmdPort=6818", "JobCompType=jobcomp/none",
        "AccountingStorageType=accounting_storage/none", "JobAcctGatherType=jobacct_gather/none",
        "KillWait=5", "MinJobAge=600", "SchedulerParameters=bf_interval=1,sched_interval=1",
        *(f"NodeName={n} NodeAddr={a} NodeHostname={n} CPUs=1 State=UNKNOWN" for n, a in cluster.addresses.items()),
        f"PartitionName=debug Nodes={','.join(cluster.nodes)} Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


def _free_subnet() -> str:
    used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    for k in random.sample(range(1, 250), 249):
        if f" 10.77.{k}." not in used:
            return f"10.77.{k}"
    raise AssertionError("no free 10.77.x.0/24 subnet for the test cluster")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _network(stack: ExitStack, cluster: Cluster, bridge: str, subnet: str) -> None:
    """A bridge with the host on .1, and one namespace per node (and one for the controller) on it."""
    _ip("link", "add", bridge, "type", "bridge")
    stack.callback(subprocess.run, ["ip", "link", "del", bridge], capture_output=True)
    _ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
    _ip("link", "set", bridge, "up")
    addresses = {"ctl": f"{subnet}.10", **cluster.addresses}
    for node, namespace in cluster.namespaces.items():
        _ip("netns", "add", namespace)
        stack.callback(subprocess.run, ["ip", "netns", "del", namespace], capture_output=True)
        veth = f"{namespace}v"[-15:]
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", veth, "master", bridge, "up")
        for args in (["addr", "add", f"{addresses[node]}/24", "dev", "eth0"], ["link", "set", "eth0", "up"],
                     ["link", "set", "lo", "up"]):
            _ip("-n", namespace, *args)
    if shutil.which("iptables"):  # Docker's FORWARD DROP would cut node-to-node traffic on the bridge
        rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
        subprocess.run(["iptables", "-I", *rule[:1], "1", *rule[1:]], check=True, capture_output=True)
        stack.callback(subprocess.run, ["iptables", "-D", *rule], capture_output=True)


def _munged(stack: ExitStack, cluster: Cluster) -> Path:
    sock = cluster.root / "munge.sock"
    key = cluster.root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    _start(cluster, "munged", ["munged", "-F", "--force", f"--socket={sock}", f"--key-file={key}",
                               f"--pid-file={cluster.root / 'munged.pid'}", f"--log-file={cluster.root / 'munged.log'}",
                               f"--seed-file={cluster.root / 'munged.seed'}"], None)
    deadline = time.monotonic() + 10
    while not sock.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"munged did not start:\n{cluster.logs()}")
        time.sleep(0.1)
    return sock


def _start(cluster: Cluster, name: str, argv: list[str], namespace_of: str | None) -> None:
    if namespace_of is not None:
        argv = ["nsenter", f"--net=/run/netns/{cluster.namespaces[namespace_of]}", *argv]
    out = (cluster.root / f"{name}.out.log").open("w")
    cluster.daemons[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop_daemons(cluster: Cluster) -> None:
    """Every job cancelled, every daemon stopped by its pid, then whatever still runs in the namespaces."""
    if "slurmctld" in cluster.daemons:
        cluster.run("scancel", "--quiet", "--partition=debug", check=False)
    for daemon in reversed(list(cluster.daemons.values())):
        stop_daemon(daemon)
    for namespace in cluster.namespaces.values():
        for pid in _pids_in(namespace):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _pids_in(namespace: str) -> list[int]:
    """Processes in the named network namespace (job steps a stopped slurmd left behind)."""
    try:
        wanted = os.stat(f"/run/netns/{namespace}").st_ino
    except OSError:
        return []
    found = []
    for entry in Path("/proc").glob("[0-9]*/ns/net"):
        try:
            if os.stat(entry).st_ino == wanted:
                found.append(int(entry.parent.parent.name))
        except OSError:
            continue
    return found
