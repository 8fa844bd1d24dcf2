# crmkpi: the stream worker, server and command line. Slim, non-root, pinned base.
#   docker build -t crmkpi .     docker run --rm crmkpi --help
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY kpis ./kpis
COPY streams ./streams
# constraints.txt pins every dependency (scripts/lock-image.sh refreshes it).
RUN pip wheel --no-cache-dir --wheel-dir /wheels --constraint constraints.txt .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRMKPI_HTTP_HOST=0.0.0.0 \
    CRMKPI_HTTP_PORT=8000
RUN groupadd --system --gid 10001 crmkpi \
    && useradd --system --uid 10001 --gid crmkpi --home-dir /app --create-home crmkpi
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels crmkpi && rm -rf /wheels
WORKDIR /app
USER crmkpi
# 8000: the internal listener (page, /kpis, /metrics); 8080: webhook ingest when
# CRMKPI_INGEST_PORT=8080 is set (docs/security.md). Only 8080 belongs on the internet.
EXPOSE 8000 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['CRMKPI_HTTP_PORT'] + '/healthz', timeout=4)"]
ENTRYPOINT ["crmkpi"]
CMD ["worker"]
