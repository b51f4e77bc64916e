# The ixuca platform image (Iluvatar CoreX, IXUCA SDK): FROM the vendor's CoreX image, loaded locally
# (`docker load`), torch, mmcv and apex from the vendor's wheel files (the wheelhouse: they are on no
# index), the CoreX tools and libraries on PATH and LD_LIBRARY_PATH, then mmengine and mmdet 3.3.0,
# then the harness itself in the last layers. Built by `harness build --platform ixuca --wheelhouse DIR`.

ARG BASE_IMAGE=corex:4.2.0
FROM ${BASE_IMAGE}
ARG COREX_VERSION
ARG TORCH_VERSION
ARG MMCV_VERSION
ARG APEX_VERSION
ARG MMENGINE_VERSION
ARG MMDET_VERSION
ARG NUMPY_VERSION
ENV PATH=/usr/local/corex/bin:$PATH \
    LD_LIBRARY_PATH=/usr/local/corex/lib64:/usr/local/corex/lib \
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 TORCH_HOME=/opt/torch
COPY docker/scripts/pip-install.sh /usr/local/bin/pip-install
COPY configs/stack/gpu.txt /tmp/constraints.txt
COPY host/ca.crt /tmp/host/ca.crt
COPY wheelhouse/ /wheelhouse/
RUN pip-install /tmp/constraints.txt --find-links /wheelhouse "torch==${TORCH_VERSION}" \
        "mmcv==${MMCV_VERSION}" "apex==${APEX_VERSION}" \
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
