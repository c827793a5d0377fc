# syntax=docker/dockerfile:1.7
# The ShareLM collector (services/collector). Build from the repository root:
#   docker build -f infra/docker/collector.Dockerfile -t sharelm-collector .
# One image for the API (`serve`, the default command) and the one-shot `migrate` / `export` commands.

# --- build: wheels of the service and the shared schemas, in a throwaway venv --------------------------
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only the two projects the service needs: packages/collection (import sharelm) and the service itself.
COPY packages/collection packages/collection
COPY services/collector services/collector
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "./packages/collection[hf]" ./services/collector

# --- runtime: the venv only, no compilers, no sources, an unprivileged user -------------------------------
FROM python:3.11.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 sharelm \
    && useradd --system --uid 10001 --gid sharelm --home-dir /var/lib/sharelm --create-home sharelm
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /var/lib/sharelm
USER 10001:10001
EXPOSE 8000
# Liveness only (the process answers); readiness with the database is /readyz, used by compose and Kubernetes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["sharelm-collector"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
