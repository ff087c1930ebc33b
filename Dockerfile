# One image for every notifier service; docker-compose.yml picks the sub-command.
# Stage 1 builds a virtualenv with exactly the versions of requirements.lock (a compiler is
# never needed: every locked package has a wheel); stage 2 gets that venv and nothing else.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY notifier ./notifier
COPY workers ./workers
RUN /opt/venv/bin/pip install -c requirements.lock . \
 && /opt/venv/bin/python -c "import notifier, workers.app"

FROM python:3.11-slim
# a fixed uid, so volume permissions are the same on every host
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin notifier
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NOTIFIER_DATA_DIR=/home/notifier/data \
    NOTIFIER_API_HOST=0.0.0.0
USER notifier
WORKDIR /home/notifier
EXPOSE 8000
ENTRYPOINT ["notifier"]
CMD ["run"]
