# Build: castpool compiled to JavaScript (dist/), so the image runs no TypeScript loader.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN bash scripts/build.sh

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium ffmpeg nats-server tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin castpool-chromium
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY config ./config
COPY --from=build /app/dist ./dist
ENV HOST=0.0.0.0 NODE_ENV=production
EXPOSE 8000
# tini is PID 1: it forwards SIGTERM to castpool and reaps the zygotes Chromium leaves behind.
# castpool (root here) starts Chromium as castpool-chromium with its sandbox; where the container's
# seccomp profile forbids user namespaces it falls back to --no-sandbox and says so in the log.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
