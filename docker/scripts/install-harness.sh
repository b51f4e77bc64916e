#!/bin/sh
# The last layer of every image: the harness itself (its dependencies are already installed), and
# /opt/mmdet-tools, a fixed path to mmdet's tools/ wherever pip put mmdet (`harness train --runtime
# docker` runs /opt/mmdet-tools/train.py).
set -eu
python3 -m pip install --no-cache-dir --no-compile --no-deps --no-build-isolation --disable-pip-version-check \
    -e /opt/harness
tools=$(python3 -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("mmdet").origin).parent / ".mim" / "tools")')
test -f "$tools/train.py"
ln -sfn "$tools" /opt/mmdet-tools
harness --help > /dev/null
