# One image for every Podium process (web, executor, worker, beat, flower); docker-compose.yml
# picks the command. Checked statically in tests/ops (no image is built in CI).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PODIUM_DATA_DIR=/data \
    PODIUM_LOG_FORMAT=json

WORKDIR /opt/podium
COPY setup.cfg pyproject.toml README.md ./
COPY engine ./engine
COPY app ./app
COPY worker ./worker
COPY executor ./executor
COPY beat ./beat
COPY messaging ./messaging
COPY cli ./cli
RUN pip install ".[ops,postgres]" \
    && useradd --create-home --uid 1000 podium \
    && mkdir -p /data && chown podium:podium /data

USER podium
VOLUME ["/data"]
EXPOSE 8080 5555
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "app:create_app()"]
