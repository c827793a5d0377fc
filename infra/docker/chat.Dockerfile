# syntax=docker/dockerfile:1.7
# The SharedLLM long-chat service (services/chat). Build from the repository root:
#   CPU (default):  docker build -f infra/docker/chat.Dockerfile -t sharedllm-chat .
#   NVIDIA GPU:     docker build -f infra/docker/chat.Dockerfile -t sharedllm-chat:cuda \
#                     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# The CUDA wheels bring their own CUDA runtime; the host needs only the NVIDIA driver and container toolkit.

# --- build: torch from the chosen wheel index first, then the model package and the service ---------------
FROM python:3.11.11-slim-bookworm AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY packages/collection packages/collection
COPY packages/sharedllm packages/sharedllm
COPY services/chat services/chat
# torch is already satisfied, so pip keeps the build chosen above instead of fetching another one.
RUN /opt/venv/bin/pip install --no-cache-dir ./packages/collection ./packages/sharedllm ./services/chat

# --- runtime: the venv, a model cache owned by an unprivileged user ------------------------------------------
FROM python:3.11.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 sharedllm \
    && useradd --system --uid 10001 --gid sharedllm --home-dir /var/lib/sharedllm --create-home sharedllm \
    && mkdir -p /models \
    && chown sharedllm:sharedllm /models
COPY --from=build /opt/venv /opt/venv
# HF_HOME: hub downloads land on a volume (compose) or PVC (Kubernetes) mounted at /models.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HOME=/models/hf
WORKDIR /var/lib/sharedllm
USER 10001:10001
EXPOSE 8000
# Loading a real checkpoint takes a while: a long start period before failures count.
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["sharedllm-chat"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
