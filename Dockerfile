# despacho: one image for every process (api, worker, scheduler, run); the command picks the role.
# docs/deploy.md. Build: docker build -t despacho:$(git rev-parse --short HEAD) .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY . .
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# restic and pg_dump for backups (docs/connectors/backup.md); tini reaps children and forwards signals
RUN apt-get update \
 && apt-get install -y --no-install-recommends restic postgresql-client tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /srv/despacho --uid 10001 despacho
COPY --from=build /install /usr/local
WORKDIR /srv/despacho
# rules, templates and config are the company's: mounted (or baked in a derived image), never this repo's
COPY --chown=despacho:despacho rules/ rules/
COPY --chown=despacho:despacho templates/ templates/
USER despacho
ENV PYTHONUNBUFFERED=1 DESPACHO_CONFIG=/srv/despacho/config.yaml
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"
ENTRYPOINT ["tini", "--", "despacho"]
CMD ["run"]
