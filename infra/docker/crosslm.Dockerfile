# syntax=docker/dockerfile:1.7
# The image of the KubeRay head and worker pods that run CrossLM (packages/crosslm): Ray's own image, with the
# same Ray release as flwr[simulation] pins, plus torch and our wheels. Build from the repository root:
#   docker build -f infra/docker/crosslm.Dockerfile -t crosslm-ray .
#   GPU workers: --build-arg RAY_IMAGE=rayproject/ray:2.55.1-py311-gpu \
#                --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG RAY_IMAGE=rayproject/ray:2.55.1-py311-cpu

# --- build: wheels of the shared schemas and CrossLM (no dependencies resolved here) -----------------------
FROM python:3.11.11-slim-bookworm AS wheels
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY packages/collection packages/collection
COPY packages/crosslm packages/crosslm
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ./packages/collection ./packages/crosslm

# --- runtime: Ray's image (user `ray`, uid 1000) with torch from the chosen index, then our wheels ----------
FROM ${RAY_IMAGE} AS runtime
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
USER 1000:100
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY --from=wheels /wheels /tmp/wheels
RUN pip install --no-cache-dir /tmp/wheels/*.whl
# KubeRay probes the pods itself; this is for plain `docker run` of a head node.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["ray", "health-check"]
