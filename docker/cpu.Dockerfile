# The cpu platform image: Debian bookworm (Python 3.11), torch's CPU build and the compiled mmcv from
# the wheelhouse, the pinned stack, then the harness itself in the last layers so that a change to
# the harness rebuilds only those. Built by `harness build --platform cpu`, which assembles the
# context (docker/README.md) and passes the versions as build arguments.

ARG BASE_IMAGE=local/debian:bookworm

FROM ${BASE_IMAGE} AS runtime-base
COPY host/debian.sources /tmp/host/debian.sources
# An empty debian.sources means the host has none and the base image keeps its own.
RUN if [ -s /tmp/host/debian.sources ]; then cp /tmp/host/debian.sources /etc/apt/sources.list.d/; fi \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libgl1 libglib2.0-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/host

FROM runtime-base AS stack
ARG TORCH_VERSION
ARG MMCV_VERSION
ARG MMENGINE_VERSION
ARG MMDET_VERSION
ARG NUMPY_VERSION
ENV PATH=/opt/venv/bin:$PATH
COPY docker/scripts/pip-install.sh /usr/local/bin/pip-install
COPY configs/stack/cpu.txt /tmp/constraints.txt
COPY host/ca.crt /tmp/host/ca.crt
COPY wheelhouse/ /wheelhouse/
RUN python3 -m venv /opt/venv \
 && pip-install /tmp/constraints.txt --find-links /wheelhouse setuptools wheel "torch==${TORCH_VERSION}" \
 && pip-install /tmp/constraints.txt --no-deps /wheelhouse/mmcv-"${MMCV_VERSION}"-*.whl \
 && pip-install /tmp/constraints.txt "mmengine==${MMENGINE_VERSION}" "mmdet==${MMDET_VERSION}" \
        "numpy==${NUMPY_VERSION}" pycocotools typer rich pydantic docker matplotlib msgspec

# The final image: the venv only (the wheelhouse, the CA bundle and pip's work stay in `stack`).
FROM runtime-base
ENV PATH=/opt/venv/bin:$PATH TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 TORCH_HOME=/opt/torch
COPY --from=stack /opt/venv /opt/venv
COPY weights/ /opt/torch/hub/checkpoints/
COPY pyproject.toml README.md /opt/harness/
COPY configs/ /opt/harness/configs/
COPY harness/ /opt/harness/harness/
COPY docker/scripts/install-harness.sh /usr/local/bin/install-harness
# pip check: every dependency pyproject.toml declares is in the image.
RUN install-harness && pip check
WORKDIR /work
