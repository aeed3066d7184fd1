# One image for both services (and the CLI); docker-compose.yml builds it once and picks the
# app with the command. Python 3.11: the version CI tests.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the locked dependencies (every file hash-checked) and the project, in a venv -----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY requirements-runtime.lock ./
RUN pip install --require-hashes -r requirements-runtime.lock
COPY pyproject.toml README.md alembic.ini ./
COPY common ./common
COPY products_microservice ./products_microservice
COPY sales_microservice ./sales_microservice
# The project itself, nothing more: its dependencies all came from the lock above. Editable,
# so alembic.ini and the migrations are found next to the code in /app.
RUN pip install --no-deps --no-build-isolation -e .

# --- runtime: the venv and the code, no build tools, a numeric non-root user -----------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH" \
    APP_ENV=production
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
RUN mkdir -p /app/var && chown 10001:10001 /app/var
USER 10001:10001
EXPOSE 8000 8001
# X-Forwarded-For is believed only from TRUSTED_PROXIES (none when unset; uvicorn alone would
# believe 127.0.0.1): a shell, so the setting reaches the flag at run time.
CMD ["sh", "-c", "exec uvicorn products_microservice.main:app --host 0.0.0.0 --port 8000 --loop uvloop --http httptools --no-access-log --proxy-headers --forwarded-allow-ips \"${TRUSTED_PROXIES:-}\""]
