# One image for every role: the gateway, workers, the storage-event listener, and the
# stage-in, stdout and stage-out containers of the Kubernetes executor's Jobs. The role is the
# command: `sluice gateway` (default), `sluice worker`, `sluice listener`, `sluice stage-in`,
# `sluice follow-stdout`.
#
#   docker build -t sluice:0.1.0 .         (or podman build)
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
LABEL sluice.stage=build
RUN python -m venv /opt/sluice
COPY pyproject.toml README.md /src/
COPY core /src/core
COPY broker /src/broker
COPY jobs /src/jobs
COPY gateway /src/gateway
COPY workers /src/workers
COPY storage_events /src/storage_events
COPY sluice /src/sluice
RUN /opt/sluice/bin/pip install --no-cache-dir /src

FROM ${PYTHON_IMAGE}
# GNU time measures the peak memory of process-executor functions; tini reaps them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends time tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --home-dir /var/lib/sluice --create-home sluice
COPY --from=build /opt/sluice /opt/sluice
ENV PATH=/opt/sluice/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SLUICE_DATA_DIR=/var/lib/sluice \
    SLUICE_HOST=0.0.0.0
USER 10001
WORKDIR /var/lib/sluice
EXPOSE 8080
ENTRYPOINT ["tini", "--", "sluice"]
CMD ["gateway"]
