"""Install the pinned OpenMMLab stack into a virtual environment: `python3 -m harness.bootstrap [--dev]`.

Standard library only: it runs before anything else is installed. Each of the six traps of the
stack (configs/stack/README.md) is handled here, in order:
  1, 4. setuptools is pinned below 81 (mmcv's build and mmengine's `mmdet::` configs need pkg_resources);
  2, 5. torch is installed first, then mmcv is built in a separate step without build isolation and
        without pip's wheel cache, and the result must load `mmcv._ext`;
  3.    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set by the harness for every training process (harness.job.command);
  6.    torchvision is never installed (RepPoints does not need it; PyPI's build breaks CPU torch).
The compiled mmcv wheel is cached outside the repository, keyed by mmcv, torch, Python and machine.

--engine also prepares this machine for container builds, the tests' Slurm cluster and the published site's
browser tests: Debian's Docker engine, Compose v1, debootstrap, slurm-wlm, munge and chromium (installed with
apt when missing, as root), and the cpu image's wheelhouse (torch's CPU wheel and the compiled mmcv) under the
cache, where `harness build --platform cpu` looks.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "configs" / "stack" / "cpu.txt"
MMCV_VERSION = "2.1.0"
MMCV_BUILD_ENV = {"MMCV_WITH_OPS": "1", "FORCE_CUDA": "0", "MAX_JOBS": str(os.cpu_count() or 2)}
CHECK_STACK = """
import importlib.metadata as md, tempfile, mmcv._ext, mmdet, mmengine
from mmengine.config import Config
with tempfile.NamedTemporaryFile('w', suffix='.py') as child:
    child.write("_base_ = 'mmdet::reppoints/reppoints-moment_r101-dconv-c3-c5_fpn-gn_head-gn_2x_coco.py'")
    child.flush()
    Config.fromfile(child.name)  # resolving mmdet:: needs pkg_resources, i.e. setuptools < 81
assert int(md.version('setuptools').split('.')[0]) < 81, 'setuptools must stay below 81'
print('stack ok: torch', md.version('torch'), 'mmcv', md.version('mmcv'), 'mmengine', md.version('mmengine'),
      'mmdet', md.version('mmdet'))
"""


class BootstrapError(Exception):
    pass


def default_cache() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness"))


def pins(constraints: Path) -> dict[str, str]:
    """Every `name==version` line of a pip constraints file, by lower-case name."""
    found = {}
    for line in constraints.read_text().splitlines():
        name, sep, version = line.split("#")[0].partition("==")
        if sep:
            found[name.strip().lower()] = version.split(";")[0].strip()
    return found


def pinned(package: str, constraints: Path = CONSTRAINTS) -> str:
    """The exact version the constraints file pins for a package."""
    try:
        return pins(constraints)[package]
    except KeyError:
        raise BootstrapError(f"{constraints} pins no version of {package}") from None


def wheel_cache_dir(cache: Path, torch_version: str) -> Path:
    """One folder per (mmcv, torch, Python, machine): a wheel built for one never serves another."""
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return cache / "wheels" / f"mmcv-{MMCV_VERSION}-torch{torch_version}-{python}-{platform.machine()}"


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(argv), flush=True)
    result = subprocess.run(argv, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise BootstrapError(f"command failed with exit code {result.returncode}: {' '.join(argv)}")


def succeeds(python: Path, code: str) -> bool:
    return subprocess.run([str(python), "-c", code], capture_output=True).returncode == 0


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)])
    return python


def pip(python: Path, command: str, *args: str, env: dict[str, str] | None = None) -> None:
    run([str(python), "-m", "pip", command, "--disable-pip-version-check", "--progress-bar", "off", *args], env=env)


def byte_compile(python: Path) -> None:
    """Write every .pyc now. Where PYTHONDONTWRITEBYTECODE is set (these machines set it), Python never saves
    what it compiles, so without this every start recompiles what it imports: measured here, `harness train`
    failing on a bad dataset 1.30 s -> 0.69 s, `import torch, mmcv.ops` about 15 s -> 5.3 s. Once: about 40 s
    on 2 cores. A few files of torch's test suite are for newer Pythons and do not compile: not an error."""
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    print(f"+ byte-compiling {site} and {ROOT / 'harness'}", flush=True)
    subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", site, str(ROOT / "harness")],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def mmcv_wheel(python: Path, cache: Path, staging: Path) -> tuple[Path, bool]:
    """The cached wheel for this torch, or a freshly compiled one (True: not yet in the cache)."""
    cached = sorted(wheel_cache_dir(cache, pinned("torch")).glob("mmcv-*.whl"))
    if cached:
        print(f"using the cached mmcv wheel {cached[0]}")
        return cached[0], False
    return build_mmcv_wheel(python, staging), True


def build_mmcv_wheel(python: Path, staging: Path) -> Path:
    """Compile mmcv against the installed torch: about 6-10 minutes on 2 cores."""
    started = time.monotonic()
    pip(python, "wheel", "--no-build-isolation", "--no-deps", "--no-cache-dir", "-w", str(staging),
        f"mmcv=={MMCV_VERSION}", env=MMCV_BUILD_ENV)
    wheel = next(staging.glob("mmcv-*.whl"))
    if "py3-none-any" in wheel.name:
        raise BootstrapError(f"mmcv was built without ops ({wheel.name}); is torch installed in {python}?")
    print(f"mmcv compiled in {time.monotonic() - started:.0f} s")
    return wheel


def keep_in_cache(wheel: Path, cache: Path) -> None:
    folder = wheel_cache_dir(cache, pinned("torch"))
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{wheel.name}.partial"
    shutil.copy2(wheel, partial)
    os.replace(partial, folder / wheel.name)
    print(f"cached the mmcv wheel in {folder}")


ENGINE_PACKAGES = {"dockerd": "docker.io", "docker-compose": "docker-compose", "debootstrap": "debootstrap",
                   "slurmctld": "slurm-wlm", "munged": "munge", "iptables": "iptables", "chromium": "chromium"}


def engine_packages() -> None:
    """Debian's docker.io, docker-compose, debootstrap, Slurm with munge (the tests' cluster) and chromium (the
    site's browser tests), for the ones whose command is missing."""
    missing = sorted({package for command, package in ENGINE_PACKAGES.items() if not shutil.which(command)})
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BootstrapError(f"install {' '.join(missing)} (Debian: apt-get install {' '.join(missing)}), then rerun")
    run(["apt-get", "update", "-qq"])
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        env={"DEBIAN_FRONTEND": "noninteractive"})


def fill_wheelhouse(python: Path, cache: Path) -> Path:
    """The cpu image's wheelhouse: the pinned torch wheel as pip resolves it here, and the cached mmcv."""
    wheelhouse = cache / "wheelhouse" / "cpu"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    if not list(wheelhouse.glob(f"torch-{pinned('torch')}*.whl")):
        pip(python, "download", "--no-deps", "-d", str(wheelhouse), f"torch=={pinned('torch')}")
    for wheel in wheel_cache_dir(cache, pinned("torch")).glob("mmcv-*.whl"):
        if not (wheelhouse / wheel.name).exists():
            shutil.copy2(wheel, wheelhouse / wheel.name)
    print(f"cpu image wheelhouse: {wheelhouse}")
    return wheelhouse


def bootstrap(venv: Path, cache: Path, dev: bool, engine: bool = False) -> None:
    if sys.version_info[:2] != (3, 11):
        raise BootstrapError(f"Python 3.11 is required (mmcv 2.1.0 and the pinned wheels), this is {sys.version.split()[0]}")
    started = time.monotonic()
    python = ensure_venv(venv)
    # --no-compile here, byte_compile() once at the end (in parallel, and for the harness's own package too)
    install = ["install", "--no-compile", "-c", str(CONSTRAINTS)]
    pip(python, *install, "setuptools", "wheel", "ninja")
    pip(python, *install, "torch")
    with tempfile.TemporaryDirectory(prefix="mmcv-build-") as staging:
        fresh = None
        if succeeds(python, f"import mmcv._ext, mmcv; assert mmcv.__version__ == '{MMCV_VERSION}'"):
            print(f"mmcv {MMCV_VERSION} with compiled ops is already installed")
        else:
            wheel, is_new = mmcv_wheel(python, cache, Path(staging))
            pip(python, "install", "--no-compile", "--no-deps", "--force-reinstall", str(wheel))
            fresh = wheel if is_new else None
        pip(python, *install, "-e", f"{ROOT}[{'train,dev' if dev else 'train'}]")
        byte_compile(python)
        run([str(python), "-c", CHECK_STACK])  # a wheel enters the cache only once it loads its ops
        if fresh:
            keep_in_cache(fresh, cache)
        if engine:
            if not list(wheel_cache_dir(cache, pinned("torch")).glob("mmcv-*.whl")):
                keep_in_cache(build_mmcv_wheel(python, Path(staging)), cache)  # the venv's mmcv was not cached
            engine_packages()
            fill_wheelhouse(python, cache)
    print(f"bootstrap done in {time.monotonic() - started:.0f} s: {venv}/bin/harness is ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m harness.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="virtual environment to create or update")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="where the compiled mmcv wheel is kept")
    parser.add_argument("--dev", action="store_true", help="also install the test tools")
    parser.add_argument("--engine", action="store_true",
                        help="also install Docker, Compose v1, debootstrap, Slurm and Chromium (apt) and fill the cpu image's "
                             "wheelhouse")
    args = parser.parse_args(argv)
    try:
        bootstrap(args.venv, args.cache, args.dev, args.engine)
    except BootstrapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
