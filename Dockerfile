FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY notifier ./notifier
COPY workers ./workers
RUN pip install --no-cache-dir . && useradd --create-home notifier
USER notifier
ENV NOTIFIER_DATA_DIR=/home/notifier/data NOTIFIER_API_HOST=0.0.0.0
ENTRYPOINT ["notifier"]
CMD ["run"]
