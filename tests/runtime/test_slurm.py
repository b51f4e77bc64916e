"""--runtime slurm: the batch script (offline), and real jobs on a real two-node cluster (tests/slurm_cluster.py)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import docker
from harness import logs
from harness.cli import app
from harness.edges import docker_engine
from harness.edges.slurm_scheduler import parse_job
from harness.errors import BadInput
from harness.job.command import JobRequest, build_job
from harness.run.resuming import last_checkpoint, refuse_conflicts, with_changes
from harness.runtime.base import Ending
from harness.runtime.container import GpuOptions, HostFacts, container_spec, docker_run_argv
from harness.runtime.slurm import batch_script, ending_of
from harness.spec import benchmarks
from harness.spec.runspec import RunSpec, SlurmOptions

from conftest import one_line_error
from support import ACROSS_NODES, HALF_BATCH, group_runs, harness_process, processes_mentioning, wait_for

# More epochs than one node trains in the minute or so before Slurm enforces a one-minute limit (about 10 s
# an epoch here, after about 25 s of start-up).
EPOCHS_PAST_A_MINUTE = "12"


def mission_job(nodes: int = 2, gpus: int = 8):
    request = JobRequest(benchmark=benchmarks.benchmark("reppoints-r101-dcn-2x"), data_root=Path("/shared/coco"),
                         platform="cuda", gpus=gpus, nodes=nodes, seed=0, epochs=24)
    run_dir = Path("/shared/results/r1")
    return request, build_job(request, "/shared/venv/bin/python", Path("/shared/tools"), run_dir / "config.py",
                              run_dir / "work_dir")


def test_the_mission_on_two_nodes_of_eight_gpus_is_one_launcher_per_node(tmp_path):
    request, job = mission_job()
    options = SlurmOptions(nodes=2, partition="gpu", time="1-00:00:00", account="lab", qos="high",
                           extra_args=("--exclusive",))
    script = batch_script(job, options, request, Path("/shared/results/r1"), resumable=True)
    directives = [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH")]
    assert directives == ["--job-name=harness-r1", "--nodes=2", "--ntasks-per-node=1",
                          "--output=/shared/results/r1/slurm-%j.out", "--open-mode=append",
                          "--chdir=/shared/results/r1", "--requeue", "--gpus-per-node=8", "--partition=gpu",
                          "--time=1-00:00:00", "--account=lab", "--qos=high", "--exclusive"]
    assert job.argv[:8] == ["/shared/venv/bin/python", "-m", "torch.distributed.run", "--nnodes", "2",
                            "--nproc_per_node", "8", "/shared/tools/train.py"]
    assert job.argv[-2:] == ["--launcher", "pytorch"] and job.total_batch == 2 * 8 * 2
    srun = script.splitlines()[-1]
    assert srun.startswith("srun --kill-on-bad-exit=1 bash -c ") and srun.endswith('"${again[@]}"')
    assert "export PET_NODE_RANK=$SLURM_NODEID" in srun and "export PET_MASTER_PORT=" in script
    assert 'again=(--resume)' in script  # a requeued job resumes from its last checkpoint
    script_file = tmp_path / "job.sh"
    script_file.write_text(script)
    assert subprocess.run(["bash", "-n", str(script_file)]).returncode == 0


def test_an_eval_job_is_not_requeued_and_a_cpu_job_asks_for_no_gpus():
    request, job = mission_job(nodes=1, gpus=1)
    cpu = request.model_copy(update={"platform": "cpu"})
    script = batch_script(job, SlurmOptions(), cpu, Path("/r/e1"), resumable=False)
    assert "#SBATCH --no-requeue" in script and "--gpus-per-node" not in script and "--resume" not in script
    assert job.argv[0] == "/shared/venv/bin/python" and "torch.distributed.run" not in job.argv


def test_a_resume_may_change_where_and_how_long_a_slurm_job_is_scheduled_and_nothing_else():
    run = RunSpec(benchmark="smoke", platform="cpu", runtime="slurm", epochs=3, slurm=SlurmOptions(time="1"))
    again, rest = with_changes(run, {"time": "10", "partition": "long", "epochs": 3})
    assert again.slurm == SlurmOptions(time="10", partition="long") and rest == {"epochs": 3}
    refuse_conflicts(again, rest)
    with pytest.raises(BadInput, match="--nodes 2 conflicts with the run's 1"):
        refuse_conflicts(*with_changes(run, {"nodes": 2}))
    local = run.model_copy(update={"runtime": "local", "slurm": SlurmOptions()})
    with pytest.raises(BadInput, match="--time 10 conflicts with the run's"):  # no scheduler to ask
        refuse_conflicts(*with_changes(local, {"time": "10"}))


def test_endings_the_cluster_here_cannot_produce_are_named_too():
    """Out of memory and preemption without requeue need a memory-enforcing cgroup and a preemption policy
    this machine's cluster has not: their scontrol lines, as Slurm writes them, are read and named."""
    def ended(state: str, reason: str, exit_code: str = "0:0"):
        return ending_of(parse_job(f"JobId=7 JobState={state} Reason={reason} ExitCode={exit_code} NodeList=n1"), "10")

    assert ended("OUT_OF_MEMORY", "OutOfMemory", "0:125") == Ending(
        1, "the Slurm job ran out of memory (ask for more with --slurm-arg=--mem=..., or lower the batch) "
           "[Slurm job 7, state OUT_OF_MEMORY]")
    assert ended("PREEMPTED", "None").cause.startswith("the Slurm job was preempted and not requeued")
    assert ended("TIMEOUT", "TimeLimit").cause.startswith("the Slurm job reached its time limit (10)")
    assert ended("FAILED", "NonZeroExitCode", "97:0").cause.startswith("a node could not see the run directory")
    assert ended("FAILED", "NonZeroExitCode", "0:9") == Ending(137, "the Slurm job was killed by signal 9")
    assert ended("COMPLETED", "None") == Ending(0, None)


def test_scontrol_job_lines_are_read():
    line = ("JobId=12 JobName=harness-r1 UserId=root(0) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) "
            "Restarts=1 ExitCode=0:15 Partition=debug NodeList=n[1-2] BatchHost=n1")
    info = parse_job(line)
    assert (info.job_id, info.state, info.reason, info.restarts, info.exit_signal, info.nodes) == \
        ("12", "TIMEOUT", "TimeLimit", 1, 15, "n[1-2]") and info.final


def test_two_nodes_train_the_smoke_benchmark_and_pass_verify(cli, slurm, session_env):
    run = session_env / "slurm-2x1"
    result = cli("train", "--runtime", "slurm", "--nodes", "2", ACROSS_NODES, HALF_BATCH, "--work-dir", run)
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "succeeded" and record["total_batch"] == 8
    job = record["slurm"]
    assert job["state"] == "COMPLETED" and job["nodes"] == "n[1-2]" and job["restarts"] == 0
    assert (run / job["batch_script"]).read_text().startswith("#!/bin/bash\n#SBATCH")
    (text_log,) = (run / "work_dir").glob("*/*.log")
    log = text_log.read_text()
    assert "Distributed launcher: pytorch" in log and "GPU number: 2" in log  # mmengine's name for world size
    assert "Epoch(train)" in (run / "console.log").read_text()  # followed live into console.log
    verdict = cli("verify", run)
    assert verdict.exit_code == 0, verdict.stdout + verdict.stderr


def test_dry_run_prints_the_batch_script_and_submits_nothing(cli, slurm, session_env):
    before = set((session_env / "results").iterdir()) if (session_env / "results").exists() else set()
    result = cli("train", "--runtime", "slurm", "--nodes", "2", "--time", "10", "--dry-run")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "#SBATCH --nodes=2" in result.stdout and "#SBATCH --time=10" in result.stdout
    assert "srun --kill-on-bad-exit=1" in result.stdout
    after = set((session_env / "results").iterdir()) if (session_env / "results").exists() else set()
    assert after == before and slurm.run("squeue", "-h").strip() == ""


def test_dry_run_without_a_controller_prints_the_script_with_a_warning(cli, tmp_path, monkeypatch):
    """Slurm's commands installed, no controller answering (a laptop, a build host): the script all the same."""
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=none\nSlurmctldHost=localhost\nSlurmctldPort=9\nAuthType=auth/munge\nMessageTimeout=1\n"
                    "NodeName=localhost CPUs=1\nPartitionName=debug Nodes=localhost Default=YES\n")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    result = cli("train", "--runtime", "slurm", "--dry-run")
    assert result.exit_code == 0, result.stdout + result.stderr
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: the partition was not checked: could not")
    assert "#SBATCH --nodes=1" in result.stdout and "srun --kill-on-bad-exit=1" in result.stdout
    refused = cli("train", "--runtime", "slurm")  # a real run still needs the controller
    assert refused.exit_code == 3 and "could not" in one_line_error(refused)


@pytest.mark.real
def test_ctrl_c_cancels_the_job_and_records_interrupted(slurm, session_env):
    run = session_env / "slurm-ctrl-c"
    harness = harness_process(run, "--runtime", "slurm")
    try:
        assert wait_for(lambda: "Epoch(train)" in _read(run / "console.log"), 180), _read(run / "console.log")
        harness.send_signal(signal.SIGINT)
        _, stderr = harness.communicate(timeout=90)
    finally:
        harness.kill()
    assert harness.returncode == 130 and stderr.strip() == "error: interrupted; the Slurm job was cancelled (scancel)"
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["slurm"]["state"] == "CANCELLED"
    assert slurm.run("squeue", "-h").strip() == "" and not processes_mentioning(str(run))


@pytest.mark.real
def test_a_job_cancelled_by_someone_else_is_a_failed_run_that_says_so(slurm, session_env):
    run = session_env / "slurm-scancel"
    harness = harness_process(run, "--runtime", "slurm")
    try:
        assert wait_for(lambda: "Epoch(train)" in _read(run / "console.log"), 180), _read(run / "console.log")
        slurm.run("scancel", json.loads((run / "run.json").read_text())["slurm"]["job_id"])
        _, stderr = harness.communicate(timeout=90)
    finally:
        harness.kill()
    assert harness.returncode == 3 and "the Slurm job was cancelled (scancel, or an administrator)" in stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["slurm"]["state"] == "CANCELLED"
    resumed = CliRunner().invoke(app, ["train", "--resume", str(run), "--epochs", "2"])
    assert resumed.exit_code == 2 and "conflicts with the run's" in resumed.stderr  # resumable, as it was started


def test_a_run_past_its_time_limit_resumes_with_a_longer_one_and_evaluates_on_slurm(cli, slurm, session_env):
    run = session_env / "slurm-timeout"
    result = cli("train", "--runtime", "slurm", "--time", "1", "--epochs", EPOCHS_PAST_A_MINUTE, "--work-dir", run)
    assert result.exit_code == 3, result.stdout + result.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["slurm"]["state"] == "TIMEOUT"
    assert "the Slurm job reached its time limit (1)" in record["error"] and "time limit" in result.stderr
    kept = last_checkpoint(run / "work_dir")
    assert kept is not None, "the checkpoints saved before the limit are kept"
    assert "Epoch(train)" in (run / "console.log").read_text()

    resumed = cli("train", "--resume", run, "--time", "10")  # the scheduling options may change on a resume
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    again = json.loads((run / "run.json").read_text())
    assert again["status"] == "succeeded" and again["spec"]["slurm"]["time"] == "10"
    assert again["slurm"]["job_id"] != record["slurm"]["job_id"] and again["slurm"]["state"] == "COMPLETED"
    assert [a["status"] for a in again["attempts"]] == ["failed", "succeeded"]
    assert again["attempts"][1]["resumed_from"] == kept[0]
    epochs = [e.epoch for e in logs.parse_path(run / "work_dir").evaluations]
    assert epochs[-1] == int(EPOCHS_PAST_A_MINUTE) and epochs == sorted(set(epochs))

    final = run / "work_dir" / f"epoch_{EPOCHS_PAST_A_MINUTE}.pth"
    evaluated = cli("eval", final, "--runtime", "slurm", "--work-dir", session_env / "slurm-eval")
    judged = cli("verify", session_env / "slurm-eval")
    assert evaluated.exit_code == judged.exit_code, evaluated.stdout + evaluated.stderr
    eval_record = json.loads((session_env / "slurm-eval" / "run.json").read_text())
    assert eval_record["spec"]["kind"] == "eval" and eval_record["slurm"]["state"] == "COMPLETED"
    assert eval_record["final_metrics"]["bbox_mAP"] == again["final_metrics"]["bbox_mAP"]
    assert "#SBATCH --no-requeue" in (session_env / "slurm-eval" / eval_record["slurm"]["batch_script"]).read_text()


@pytest.mark.real
def test_repro_runs_its_seeds_as_concurrent_slurm_jobs(slurm, session_env):
    results, group = session_env / "results", "slurm-repro"
    done = subprocess.run([sys.executable, "-m", "harness", "repro", "--runtime", "slurm", "--runs", "2",
                           "--parallel", "2", "--epochs", "1", "--group", group],
                          capture_output=True, text=True, timeout=600)
    runs = group_runs(results, group)
    assert sorted(runs) == [0, 1], done.stdout + done.stderr
    assert all(r["status"] == "succeeded" and r["slurm"]["state"] == "COMPLETED" for r in runs.values())
    # one CPU per node: the two jobs ran side by side only if the scheduler put them on both nodes
    assert {r["slurm"]["nodes"] for r in runs.values()} == {"n1", "n2"}
    verdict = CliRunner().invoke(app, ["verify", *[str(results / r["run_id"]) for r in runs.values()]])
    assert done.returncode == verdict.exit_code, done.stdout + done.stderr


@pytest.mark.real
def test_a_node_taken_down_mid_run_is_a_node_failure(slurm, session_env):
    run = session_env / "slurm-node-down"
    harness = harness_process(run, "--runtime", "slurm", "--nodes", "2", ACROSS_NODES, HALF_BATCH,
                              "--slurm-arg=--no-requeue")
    try:
        assert wait_for(lambda: "Epoch(train)" in _read(run / "console.log"), 180), _read(run / "console.log")
        slurm.set_node("n2", "down", "taken down by the test")
        _, stderr = harness.communicate(timeout=120)
    finally:
        harness.kill()
        slurm.set_node("n2", "resume", check=False)  # back for the next test (refused if it already is)
    assert harness.returncode == 3 and "a node of the Slurm job failed (n[1-2])" in stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["slurm"]["state"] == "NODE_FAIL"
    slurm.wait_idle()


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_doctor_shows_the_cluster_as_the_scheduler_sees_it(cli, slurm):
    result = cli("doctor", "--runtime", "slurm", "--nodes", "2")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "partition debug is up" in result.stdout and "n1 idle 1 CPUs" in result.stdout and "n2 idle" in result.stdout
    too_many = cli("doctor", "--runtime", "slurm", "--nodes", "3")
    assert too_many.exit_code == 3 and "--nodes 3 needs that many usable nodes" in too_many.stdout
    assert too_many.stderr.strip() == "error: not ready: Slurm nodes"


def test_no_controller_is_one_line_and_exit_3(cli, tmp_path, monkeypatch):
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=gone\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=9\nMessageTimeout=1\n"
                    "NodeName=x CPUs=1\nPartitionName=debug Nodes=x Default=YES\n")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    result = cli("train", "--runtime", "slurm", "--epochs", "1", "--work-dir", tmp_path / "run")
    assert result.exit_code == 3 and one_line_error(result).startswith("error: could not list the partitions: ")
    assert not (tmp_path / "run" / "run.json").exists()
    doctor = cli("doctor", "--runtime", "slurm")
    assert doctor.exit_code == 3 and "Slurm controller and partition" in doctor.stdout


def test_a_run_directory_only_this_machine_sees_is_refused(cli, tmp_path):
    shm = Path("/dev/shm")
    run = Path(tempfile.mkdtemp(dir=shm)) / "run"
    try:
        result = cli("train", "--runtime", "slurm", "--nodes", "2", "--work-dir", run)
        assert result.exit_code == 2 and "which only this machine sees" in one_line_error(result)
    finally:
        shutil.rmtree(run.parent)


def test_a_single_node_job_runs_in_the_cpu_image_with_container_docker(cli, slurm, docker_host, cpu_image,
                                                                        session_env):
    run = session_env / "slurm-docker"
    result = cli("train", "--runtime", "slurm", "--container", "docker", "--epochs", "1", "--work-dir", run)
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "succeeded" and record["slurm"]["state"] == "COMPLETED"
    assert record["image"]["id"] == cpu_image["image_id"] and record["environment"]["stack"]["where"] == "image"
    script = (run / record["slurm"]["batch_script"]).read_text()
    assert "docker run --rm --init --network host" in script and "/opt/mmdet-tools/train.py" in script
    assert f"type=bind,source={run},target=/work/run" in script and "-e PET_NODE_RANK" in script
    (text_log,) = (run / "work_dir").glob("*/*.log")
    assert "/work/run/work_dir" in text_log.read_text()  # mmengine ran inside the container
    assert docker_engine.leftover_containers(docker.DockerClient(base_url=docker_host)) == []


def test_a_node_container_gets_the_docker_runtimes_gpu_requests_as_docker_run_options():
    host = HostFacts(runtimes=["runc"], iluvatar_devices=["/dev/iluvatar0", "/dev/iluvatar1"], uid=1000, gid=1000)

    def argv(platform: str, **gpu) -> list[str]:
        spec = container_spec("c", "img", ["python3", "t.py"], Path("/coco"), Path("/r"), Path("/cfg"),
                              GpuOptions(platform=platform, **gpu), host, "8g", False, {"io.harness.run-id": "r"})
        return docker_run_argv(spec, ("PET_NODE_RANK",))

    cuda = argv("cuda", gpus=8)
    assert cuda[cuda.index("--gpus") + 1] == "8" and "--privileged" not in cuda and "--runtime" not in cuda
    assert cuda[-3:] == ["img", "python3", "t.py"] and ["--user", "1000:1000"] == cuda[6:8]
    assert ["-e", "PET_NODE_RANK"] == cuda[cuda.index("PET_NODE_RANK") - 1:cuda.index("PET_NODE_RANK") + 1]
    assert "type=bind,source=/coco,target=/data/coco,readonly" in cuda and "type=bind,source=/r,target=/work/run" in cuda
    ids = argv("cuda", gpus=2, gpu_ids=["3", "5"])
    assert ids[ids.index("--gpus") + 1] == '"device=3,5"'
    ixuca = argv("ixuca", gpus=2)
    assert ixuca.count("--device") == 2 and "-e" in ixuca and "IX_VISIBLE_DEVICES=0,1" in ixuca
    assert "type=bind,source=/usr/src,target=/usr/src,readonly" in ixuca


@pytest.mark.real
def test_a_requeued_job_resumes_from_its_last_checkpoint(slurm, session_env):
    run = session_env / "slurm-requeue"
    harness = harness_process(run, "--runtime", "slurm", "--epochs", "3")
    try:
        # last_checkpoint, not epoch_1.pth: mmengine names the checkpoint there once it is saved whole
        assert wait_for(lambda: (run / "work_dir" / "last_checkpoint").exists(), 240), _read(run / "console.log")
        job_id = json.loads((run / "run.json").read_text())["slurm"]["job_id"]
        slurm.run("scontrol", "requeue", job_id)  # what preemption with requeue does; it starts again
        # after the cluster's cred_expire (10 s here, 120 s by default)
        out, stderr = harness.communicate(timeout=300)
    finally:
        harness.kill()
    assert harness.returncode == 0, out + stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "succeeded" and record["slurm"]["restarts"] == 1
    console = (run / "console.log").read_text()
    assert f"harness: Slurm requeued job {job_id} (restart 1" in console
    assert "resuming from the last checkpoint" in console and "Epoch(train) [1]" in console.split("resuming")[0]
    parsed = logs.parse_path(run / "work_dir")
    assert [e.epoch for e in parsed.evaluations][-1] == 3
    resumed = console.split("resuming from the last checkpoint", 1)[1]
    assert "Epoch(train) [1][" not in resumed and "Epoch(train) [3][" in resumed  # not started over
