# One image for both services; docker-compose.yml picks the app with the command.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home /app app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p common products_microservice sales_microservice \
    && touch common/__init__.py products_microservice/__init__.py sales_microservice/__init__.py \
    && pip install . \
    && pip uninstall -y ecommerce-manager

COPY alembic.ini ./
COPY common ./common
COPY products_microservice ./products_microservice
COPY sales_microservice ./sales_microservice
RUN mkdir -p /app/var && chown app /app/var

USER app
ENV APP_ENV=production
EXPOSE 8000 8001
CMD ["uvicorn", "products_microservice.main:app", "--host", "0.0.0.0", "--port", "8000", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--proxy-headers"]
