"""The harness's overhead on Slurm: the 2-node smoke run through `harness train --runtime slurm` against the
same run started by hand with `sbatch` on the same cluster (its end seen by polling `scontrol`) (the harness's generated config, a
hand-written batch script: srun, one torch.distributed launcher per node), side by side, alternating
which goes first. Prints each pair, the median wall ratio harness/by-hand (target <= 1.05), and the
time from submission to the first training line (the smoke config logs every 4 iterations).

Starts its own two-node cluster (tests/slurm_cluster.py; root, slurm-wlm and munge installed by
`python3 -m harness.bootstrap --dev --engine`) and stops it at the end.

    .venv/bin/python benchmarks/slurm_overhead.py [--pairs 2] [--epochs 5]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from slurm_cluster import running_cluster  # noqa: E402

ACROSS = "--export=ALL,GLOO_SOCKET_IFNAME=eth0"
HALF_BATCH = "train_dataloader.batch_size=4"


def harness_run(work: Path, epochs: int, env: dict[str, str]) -> tuple[float, float | None]:
    argv = [sys.executable, "-m", "harness", "train", "--verbose", "--runtime", "slurm", "--nodes", "2",
            f"--slurm-arg={ACROSS}", f"--cfg-option={HALF_BATCH}", "--epochs", str(epochs), "--work-dir", str(work)]
    return _timed(argv, env, work)


def by_hand_run(work: Path, config: Path, env: dict[str, str]) -> tuple[float, float | None]:
    """What a user would write without the harness: the same config, one launcher per node."""
    import harness.job.command as job

    train = job.mmdet_tools_dir() / "train.py"
    work.mkdir(parents=True)
    (work / "config.py").write_text(config.read_text())
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                "-m", "harness.job.cpu_launch", str(train), str(work / "config.py"), "--work-dir", str(work / "work_dir"),
                "--auto-scale-lr", "--launcher", "pytorch", "--cfg-options", HALF_BATCH]
    script = work / "job.sh"
    script.write_text("\n".join([
        "#!/bin/bash", "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", f"#SBATCH --output={work}/out.log",
        f"#SBATCH {ACROSS}",
        'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        'export PET_MASTER_ADDR=$(scontrol show node "$head" | sed -n \'s/.*NodeAddr=\\([^ ]*\\).*/\\1/p\')',
        "export PET_MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000)) OMP_NUM_THREADS=1 TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1",
        f"srun bash -c 'export PET_NODE_RANK=$SLURM_NODEID; exec \"$@\"' node {shlex.join(launcher)}", ""]))
    started = time.perf_counter()
    job_id = subprocess.run(["sbatch", "--parsable", str(script)], env=env, capture_output=True, text=True,
                            check=True).stdout.strip()
    first, state = None, "PENDING"
    while state in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):  # polled as often as a user's loop would
        log = work / "out.log"
        if first is None and log.exists() and "Epoch(train)" in log.read_text(errors="replace"):
            first = time.perf_counter() - started
        shown = subprocess.run(["scontrol", "show", "job", "-o", job_id], env=env, capture_output=True, text=True)
        state = next((f.split("=", 1)[1] for f in shown.stdout.split() if f.startswith("JobState=")), "GONE")
        time.sleep(0.2)
    if state != "COMPLETED":
        sys.exit(f"the by-hand job ended {state}: see {work}/out.log")
    return time.perf_counter() - started, first


def _timed(argv: list[str], env: dict[str, str], work: Path) -> tuple[float, float | None]:
    started, first = time.perf_counter(), None
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if first is None and "Epoch(train)" in line:
            first = time.perf_counter() - started
    if process.wait() != 0:
        sys.exit(f"the harness run failed: see {work}/console.log")
    return time.perf_counter() - started, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hsb-", dir="/tmp"))
    with running_cluster(root / "cluster") as cluster:
        env = {**os.environ, **cluster.env}
        ratios = []
        for pair in range(args.pairs):
            first_harness = pair % 2 == 0
            results = {}
            for which in (("harness", "hand") if first_harness else ("hand", "harness")):
                if which == "harness":
                    results[which] = harness_run(root / f"harness-{pair}", args.epochs, env)
                else:  # pair 1 runs the harness first: its generated config is the one run by hand
                    results[which] = by_hand_run(root / f"hand-{pair}", root / "harness-0" / "config.py", env)
            ratio = results["harness"][0] / results["hand"][0]
            ratios.append(ratio)
            print(f"pair {pair + 1}: harness {results['harness'][0]:.1f} s (first iteration line at "
                  f"{results['harness'][1]:.1f} s), by hand {results['hand'][0]:.1f} s (at {results['hand'][1]:.1f} s), "
                  f"ratio {ratio:.3f}", flush=True)
        print(f"median wall ratio harness/by-hand: {statistics.median(ratios):.3f} (target <= 1.05), "
              f"{args.epochs} epochs on 2 nodes x 1 process")


if __name__ == "__main__":
    main()
