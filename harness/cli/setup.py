"""Getting ready: `harness build`, `images`, `doctor`, `references` and `dataset check|synth`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from harness.cli import output
from harness.cli.app import app, dataset_app
from harness.cli.options import PartitionOption
from harness.errors import ExitCode
from harness.spec.choices import PLATFORMS, RUNTIMES, SEED_MAX


@app.command("build")
def build_command(
    platform: Annotated[str, typer.Option(help=f"One of {', '.join(PLATFORMS)}.")] = "cpu",
    base_image: Annotated[Optional[str], typer.Option(help="Base image; default: the platform's (configs/platforms/).")] = None,
    wheelhouse: Annotated[Optional[Path], typer.Option(help="Folder with the wheels the platform needs (torch/mmcv).")] = None,
    tag: Annotated[Optional[list[str]], typer.Option(help="Extra tag for the image (repeatable).")] = None,
    weights: Annotated[Optional[list[Path]], typer.Option(help="Checkpoint to pre-seed into the torch hub cache, "
                                                                "e.g. resnet101-63fe2227.pth (repeatable).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every line of the build output.")] = False,
):
    """Build the platform's image from docker/ on the Docker engine, tagged by the hash of its content."""
    from harness.images import build, listing

    options = build.BuildOptions(platform=platform, base_image=base_image, wheelhouse=wheelhouse,
                                 tags=tuple(tag or ()), weights=tuple(weights or ()), no_cache=no_cache,
                                 verbose=verbose)
    output.say(listing.build_summary(build.build(options, output.console)))


@app.command("images")
def images_command(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False):
    """List the images `harness build` made: platform, pinned versions, size and age."""
    from harness.images import listing

    found = listing.built_images()
    if as_json:
        typer.echo(json.dumps([listing.to_json(i) for i in found], indent=2))
    elif not found:
        output.console.print("no images built by harness in this engine (run `harness build`)", highlight=False)
    else:
        output.console.print(listing.images_table(found))


@app.command("doctor")
def doctor_command(
    platform: Annotated[Optional[str], typer.Option(help=f"One of {', '.join(PLATFORMS)}; default: detected.")] = None,
    gpus: Annotated[int, typer.Option(min=1, help="GPUs the run will ask for.")] = 1,
    data: Annotated[Optional[Path], typer.Option(help="COCO 2017 directory the run will use.")] = None,
    min_free_gb: Annotated[float, typer.Option(help="Free disk needed under results/, GiB.")] = 10.0,
    runtime: Annotated[str, typer.Option(help="docker (engine, image, GPUs through it, the preflight in the image), "
                                              "local (the preflight in this Python environment) or slurm "
                                              "(controller, partition, nodes, shared run directory).")] = "docker",
    nodes: Annotated[int, typer.Option(min=1, help="slurm: nodes the run will ask for.")] = 1,
    partition: PartitionOption = None,
):
    """Check what a run needs: engine, image, GPUs through the engine, dataset, disk, shared memory and the
    run's preflight in the image (with --runtime local: in this environment); or, with --runtime slurm, the
    controller, the partition, its nodes and GPUs, and a shared run directory.

    Exit code 0 when every check is ok, 3 when one fails."""
    from harness.edges.host import detect_platform
    from harness.report.terminal import preflight_table
    from harness.runtime import doctor
    from harness.spec.runspec import checked_choice

    checked_choice(platform, PLATFORMS, "platform")
    checked_choice(runtime, RUNTIMES, "runtime")
    options = doctor.DoctorOptions(platform=platform or detect_platform(), gpus=gpus, data=data,
                                   min_free_gb=min_free_gb, nodes=nodes, partition=partition)
    checks, preflight = doctor.diagnose_with(runtime, options)
    output.console.print(doctor.table(checks))
    if preflight is not None:
        output.console.print(preflight_table(preflight))
    failed = [c.name for c in checks if not c.ok]
    if failed:
        output.warn(f"error: not ready: {', '.join(failed)}")
        raise typer.Exit(int(ExitCode.INFRASTRUCTURE))


@app.command("references")
def references_command():
    """List every benchmark's references with their provenance."""
    from harness.report import terminal
    from harness.spec import benchmarks

    output.console.print(terminal.references_table(benchmarks.benchmarks().values()))


@dataset_app.command("check")
def dataset_check_command(
    path: Annotated[Path, typer.Argument(help="COCO 2017 directory.")],
    benchmark: Annotated[Optional[str], typer.Option(
        help="Also check what this benchmark needs (the COCO benchmark: COCO's 80 category ids and names).")] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also open and decode every image, in parallel: a truncated "
                                                      "or non-image file, or a size unlike its annotation's, is named.")]
    = False,
):
    """Validate a COCO 2017 layout and what the training needs: files present, unique image and annotation ids,
    boxes with positive size inside their image, known category ids, iscrowd 0/1.

    Exit code 0: valid (warnings, such as zero-size boxes mmdet skips, are printed); 2: the first problem named,
    the rest counted by kind."""
    from harness.data import check
    from harness.report import terminal
    from harness.report.progress import StepBars
    from harness.spec import benchmarks

    expected = benchmarks.benchmark(benchmark).expected_categories if benchmark else None
    summary = check.check_dataset(path, expected, deep, StepBars(output.err_console))
    output.console.print(terminal.dataset_table(summary))
    for warning in summary.warnings:
        output.warn(f"warning: {warning}")


@dataset_app.command("synth")
def dataset_synth_command(
    out: Annotated[Path, typer.Argument(help="New directory to write.")],
    train: Annotated[int, typer.Option(min=1, help="Training images.")] = 64,
    val: Annotated[int, typer.Option(min=1, help="Validation images.")] = 16,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="Random seed; the same seed gives the same files.")] = 0,
    image_size: Annotated[int, typer.Option(min=32, help="Square image side in pixels.")] = 128,
):
    """Write a synthetic COCO 2017-layout detection dataset (coloured shapes, 3 categories)."""
    from harness.data import check, synth
    from harness.report import terminal
    from harness.report.progress import counting_bar

    params = synth.SynthParams(train=train, val=val, seed=seed, image_size=image_size)
    with counting_bar(output.err_console, "writing images", train + val) as advance:
        written = synth.write_synthetic(out, params, on_image=advance)
    output.console.print(terminal.dataset_table(check.check_dataset(written)))
