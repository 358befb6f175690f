# syntax=docker/dockerfile:1
# Airbyte source connector image for source-mixpanel-aep.
#
# Standard build:   docker build -t airbyte/source-mixpanel-aep:dev .
# Local/no-registry build (see scripts/test-image.sh):
#   podman build --isolation chroot \
#     --build-arg BASE_IMAGE=localhost/mixpanel-aep-base:bookworm \
#     --secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt \
#     -t airbyte/source-mixpanel-aep:dev .
#
# Both stages must use the same BASE_IMAGE: the venv's interpreter is a symlink to the
# base image's python.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder

# Optional package index settings, for networks that need them. Empty means pip's
# defaults (https://pypi.org/simple).
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_TRUSTED_HOST=""

WORKDIR /build
COPY setup.py README.md main.py constraints.txt ./
COPY source_mixpanel_aep ./source_mixpanel_aep

# An optional CA bundle for pip (e.g. behind a TLS-intercepting proxy) comes in as a
# build secret, mounted only for this RUN: it is not stored in any layer.
RUN --mount=type=secret,id=cacert \
    set -eu; \
    if [ -s /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi; \
    [ -n "$PIP_INDEX_URL" ] || unset PIP_INDEX_URL; \
    [ -n "$PIP_EXTRA_INDEX_URL" ] || unset PIP_EXTRA_INDEX_URL; \
    [ -n "$PIP_TRUSTED_HOST" ] || unset PIP_TRUSTED_HOST; \
    python -m venv /opt/venv; \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 /opt/venv/bin/pip install --use-pep517 -c constraints.txt . ; \
    test -x /opt/venv/bin/source-mixpanel-aep


FROM ${BASE_IMAGE}

# Literal version: keep it equal to setup.py's (scripts/test-image.sh fails otherwise).
LABEL io.airbyte.name=airbyte/source-mixpanel-aep \
      io.airbyte.version=1.0.0

RUN groupadd --system airbyte \
    && useradd --system --gid airbyte --home-dir /airbyte --create-home --shell /usr/sbin/nologin airbyte

COPY --from=builder /opt/venv /opt/venv

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    AIRBYTE_ENTRYPOINT="/opt/venv/bin/source-mixpanel-aep"

WORKDIR /airbyte
USER airbyte

ENTRYPOINT ["/opt/venv/bin/source-mixpanel-aep"]
