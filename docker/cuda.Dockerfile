# The cuda platform image: PyTorch 2.1.2 + CUDA 12.1 (devel) from the base image, OpenMMLab's
# prebuilt mmcv 2.1.0 for cu121/torch2.1, mmengine and mmdet 3.3.0 with numpy < 2, then the harness
# itself in the last layers. Built by `harness build --platform cuda`, which passes the versions.

ARG BASE_IMAGE=pytorch/pytorch:2.1.2-cuda12.1-cudnn8-devel
FROM ${BASE_IMAGE}
ARG TORCH_VERSION
ARG MMCV_VERSION
ARG MMCV_INDEX
ARG MMENGINE_VERSION
ARG MMDET_VERSION
ARG NUMPY_VERSION
ENV TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 TORCH_HOME=/opt/torch
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
COPY docker/scripts/pip-install.sh /usr/local/bin/pip-install
COPY configs/stack/gpu.txt /tmp/constraints.txt
COPY host/ca.crt /tmp/host/ca.crt
# The base image's torch must be the one the mmcv wheels were built for.
RUN python3 -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '${TORCH_VERSION}')" \
 && pip-install /tmp/constraints.txt --find-links "${MMCV_INDEX}" "mmcv==${MMCV_VERSION}" \
 && pip-install /tmp/constraints.txt "mmengine==${MMENGINE_VERSION}" "mmdet==${MMDET_VERSION}" \
        "numpy==${NUMPY_VERSION}" pycocotools typer rich pydantic docker matplotlib msgspec \
 && rm -rf /tmp/host
COPY weights/ /opt/torch/hub/checkpoints/
COPY pyproject.toml README.md /opt/harness/
COPY configs/ /opt/harness/configs/
COPY harness/ /opt/harness/harness/
COPY docker/scripts/install-harness.sh /usr/local/bin/install-harness
RUN install-harness
WORKDIR /work
