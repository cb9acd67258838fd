# The jobfleet image: the `workers` supervisor and the examples, for docker-compose.yml.
# Build context is the repository root (see .dockerignore for what stays out).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml ./
COPY jobs ./jobs
COPY workers ./workers
RUN pip install .

# Job functions must be importable by the workers under the same module name the producer
# used (examples.cluster_jobs), so the examples live on the path too.
COPY examples ./examples
ENV PYTHONPATH=/app

# Run as an unprivileged user: a job is arbitrary code.
RUN useradd --create-home --uid 10001 jobfleet
USER jobfleet

# SIGTERM is the supervisor's warm shutdown (finish current jobs within --shutdown-timeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["workers"]
CMD ["supervise", "--help"]
