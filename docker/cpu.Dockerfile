# The cpu platform image: Debian bookworm (Python 3.11), torch CPU and the compiled mmcv from a local
# wheelhouse, the pinned stack, then the harness itself in the last layers so a code change rebuilds
# only those. Build context: the repository plus wheelhouse/, debian.sources and host-ca.crt
# (docker/README.md). The legacy builder is enough; BuildKit is not needed.

ARG BASE_IMAGE=local/debian:bookworm

FROM ${BASE_IMAGE} AS runtime-base
COPY debian.sources /etc/apt/sources.list.d/debian.sources
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libgl1 libglib2.0-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

FROM runtime-base AS stack
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY configs/stack/cpu.txt /tmp/constraints.txt
COPY wheelhouse/ /wheelhouse/
COPY host-ca.crt /tmp/host-ca.crt
RUN export PIP_CERT=/tmp/host-ca.crt && python3 -m venv /opt/venv \
 && pip install --no-compile -c /tmp/constraints.txt --find-links /wheelhouse setuptools wheel torch \
 && pip install --no-compile --no-deps /wheelhouse/mmcv-*.whl \
 && pip install --no-compile -c /tmp/constraints.txt mmengine mmdet pycocotools typer rich pydantic pillow docker matplotlib

FROM runtime-base
ENV PATH=/opt/venv/bin:$PATH TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
COPY --from=stack /opt/venv /opt/venv
COPY pyproject.toml README.md /opt/harness/
COPY configs/ /opt/harness/configs/
COPY harness/ /opt/harness/harness/
RUN pip install --no-compile --no-deps --no-build-isolation --disable-pip-version-check -e /opt/harness
WORKDIR /work
