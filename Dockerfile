# The Customer API server: `docker build -t customer-api .`
# Alone it runs embedded (SQLite and the vault under the /data volume); docker-compose.yml runs it
# with Postgres and Elasticsearch.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

# The package is installed (not editable); the migrations are looked up in the working
# directory, so /app holds migrations/ and alembic.ini.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf src build
COPY alembic.ini ./
COPY migrations ./migrations

RUN mkdir -p /data/vault && chown -R app:app /data
VOLUME ["/data"]

# `docker stop` sends SIGKILL 10 s after SIGTERM unless told otherwise: requests in flight get
# 8 s to finish (the compose file gives 20 s, within its 30 s stop_grace_period).
ENV CUSTOMER_API_HOST=0.0.0.0 \
    CUSTOMER_API_PORT=8000 \
    CUSTOMER_API_DATABASE_URL=sqlite:////data/customer-api.db \
    CUSTOMER_API_VAULT_DIR=/data/vault \
    CUSTOMER_API_SHUTDOWN_TIMEOUT=8

USER app
EXPOSE 8000

# No curl in the slim image: the standard library asks /health (any failure exits non-zero).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CUSTOMER_API_PORT', '8000'), timeout=4)"

CMD ["customer-api", "serve"]
