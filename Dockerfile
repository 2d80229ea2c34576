# promptpix app image: slim Python 3.11; libvips comes from the pyvips-binary wheel, not the OS.
# Build: docker build -t promptpix .   Run: see docker-compose.yml and docs/deploy.md.

FROM python:3.11.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11.11-slim
# Fonts for text drawn by libvips (error images, the offline generator's labels).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home promptpix
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PROMPTPIX_HOST=0.0.0.0 \
    PROMPTPIX_PORT=8080 \
    PROMPTPIX_DATA_DIR=/data
USER promptpix
WORKDIR /data
EXPOSE 8080
# Liveness only (the process answers); readiness (database, storage) is /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PROMPTPIX_PORT', '8080'), timeout=2)"]
# SIGTERM: workers stop accepting, finish in-flight requests for up to
# PROMPTPIX_SHUTDOWN_TIMEOUT seconds, release their generation claims, exit.
STOPSIGNAL SIGTERM
CMD ["promptpix", "serve"]
