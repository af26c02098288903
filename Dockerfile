# LLM-Sentinel service image (docker-compose.yml builds it as "sentinel"). Two stages on the same base,
# so native modules built in the first (better-sqlite3 compiles from source when no prebuilt binary
# fits) run in the second, which has no compiler.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first: the dependency layer is rebuilt only when they change. Every workspace's manifest is
# needed for the lockfile to match, but only the root (tsx) and the service's workspaces are installed:
# the Grafana plugin's toolchain is not part of the service.
COPY package.json package-lock.json tsconfig.json ./
COPY embeddings/package.json embeddings/
COPY backend/package.json backend/
COPY plugin/package.json plugin/
RUN npm ci --include-workspace-root --workspace embeddings --workspace backend --no-audit --no-fund \
  && npm cache clean --force
COPY embeddings embeddings
COPY backend backend

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
ENV SENTINEL_HOST=0.0.0.0 \
    SENTINEL_PORT=8080 \
    SENTINEL_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/api/v1/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The service itself as the container's process (not npm, which did not pass SIGTERM on to it): SIGTERM
# scores the windows that have ended and saves the open ones first.
CMD ["node", "backend/bin/sentinel.js", "serve"]
