# syntax=docker/dockerfile:1
# One image for every LeadEngine process. The Kubernetes manifests choose the process with their
# `args` (there is no ENTRYPOINT), e.g. ["python", "-m", "services.ingest", "serve"] or
# ["python", "-m", "services.ingest", "migrate"]; the gateway is ["python", "-m", "services.gateway"].
#   docker build -t leadengine/leadengine:0.1.0 .
# tests/unit/test_dockerfile.py checks the rules below; README, "Kubernetes", says how to ship it.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- deps: the third-party packages pyproject.toml lists, in a venv the runtime copies -----------
# Only pyproject.toml is copied here, so a code change reuses this layer. --only-binary: every
# dependency ships a manylinux wheel, so nothing is compiled and no compiler is installed anywhere.
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: --requirement /tmp/requirements.txt

# --- runtime: the venv, our code, a non-root user; no pip cache, no compiler, no apt lists -------
FROM ${PYTHON_IMAGE} AS runtime
# The uid/gid the manifests' securityContext runs as (runAsUser/runAsGroup 10001).
RUN groupadd --system --gid 10001 leadengine \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin leadengine
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# Our code runs from the tree, as in development: gen/ (generated stubs) and . on PYTHONPATH.
COPY --chown=root:root gen/ /app/gen/
COPY --chown=root:root shared/ /app/shared/
COPY --chown=root:root services/ /app/services/
COPY --chown=root:root cli/ /app/cli/
# Bytecode now, owned by root: the app user can neither write it nor change the code.
RUN python -m compileall -q /app
# The root filesystem is read-only in Kubernetes: no .pyc writes; /tmp is an emptyDir there.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/gen:/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
# No HEALTHCHECK: Kubernetes probes the gRPC health service (and the gateway's /healthz, /readyz).
EXPOSE 50051 9090 8080
CMD ["python", "-m", "cli.main", "--help"]
