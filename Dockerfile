# syntax=docker/dockerfile:1
# One image for every payhooks process; the command picks the app:
#   ingress (default): node apps/ingress/dist/main.js
#   worker:            node apps/worker/dist/main.js
# Configuration comes from the environment only (packages/core/src/config.ts).
# Every workspace under packages/ and apps/ is taken as it is, so a new provider package needs no
# line here; packages/testing (test helpers) never enters the build (.dockerignore).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- manifests: each workspace's package.json, nothing else ------------------------------
# npm ci needs the package.json of every workspace to link them. The layers below are keyed on
# what this stage leaves, so npm ci is reused while only sources change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY packages/ packages/
COPY apps/ apps/
RUN find packages apps -mindepth 2 -maxdepth 2 ! -name package.json -exec rm -rf {} +

# ---- build: all dependencies, TypeScript project build ----------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

COPY package.json package-lock.json ./
COPY --from=manifests /app/ ./
# --ignore-scripts: the root `prepare` (tsc -b) needs the sources, copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.base.json ./
COPY packages/ packages/
COPY apps/ apps/
# Every workspace here (not through the root tsconfig.json, which also names packages/testing).
RUN npx tsc -b packages/* apps/*
# What the runtime stage takes: each workspace's package.json and dist/, and the CLI's bin/.
RUN for w in packages/* apps/*; do mkdir -p "/out/$w" && cp -R "$w/package.json" "$w/dist" "/out/$w/"; done \
 && cp -R apps/cli/bin /out/apps/cli/

# ---- runtime: production dependencies and compiled output only --------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
COPY --from=manifests /app/ ./
# Links the workspaces (node_modules/@payhooks/* -> packages/*, apps/*) without dev tools.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY --from=build /out/ ./

# Files stay owned by root (read-only to the app); the process runs as the image's
# unprivileged "node" user (uid 1000).
USER node

# PORT (webhooks) defaults to 3000, ADMIN_PORT to 3001.
EXPOSE 3000 3001
CMD ["node", "apps/ingress/dist/main.js"]
