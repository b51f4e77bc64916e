#!/bin/sh
# `pip install` for every image build: the platform's constraints file (first argument), no cache,
# no byte-compiling, and the host's CA bundle when the build context carries one (on some hosts
# PyPI is reached through a TLS-inspecting proxy that only the host's bundle trusts).
set -eu
constraints=$1
shift
if [ -s /tmp/host/ca.crt ]; then
    export PIP_CERT=/tmp/host/ca.crt
fi
exec python3 -m pip install --no-cache-dir --no-compile --disable-pip-version-check -c "$constraints" "$@"
