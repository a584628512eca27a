# syntax=docker/dockerfile:1
# One image for every payhooks process; the command picks the app:
#   ingress (default): node apps/ingress/dist/main.js
#   worker:            node apps/worker/dist/main.js
# Configuration comes from the environment only (packages/core/src/config.ts).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, TypeScript project build ----------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Manifests first so the npm ci layer is reused while only sources change. npm ci needs the
# package.json of every workspace listed in package-lock.json to link them.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/payme/package.json packages/payme/
COPY packages/payram/package.json packages/payram/
COPY packages/payske/package.json packages/payske/
COPY packages/robokassa/package.json packages/robokassa/
COPY packages/testing/package.json packages/testing/
COPY apps/ingress/package.json apps/ingress/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
# --ignore-scripts: the root `prepare` (tsc -b) needs the sources, copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.base.json tsconfig.json ./
COPY packages/ packages/
COPY apps/ apps/
RUN npx tsc -b

# ---- runtime: production dependencies and compiled output only --------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/packages/core/package.json packages/core/
COPY --from=build /app/packages/payme/package.json packages/payme/
COPY --from=build /app/packages/payram/package.json packages/payram/
COPY --from=build /app/packages/payske/package.json packages/payske/
COPY --from=build /app/packages/robokassa/package.json packages/robokassa/
COPY --from=build /app/packages/testing/package.json packages/testing/
COPY --from=build /app/apps/ingress/package.json apps/ingress/
COPY --from=build /app/apps/worker/package.json apps/worker/
COPY --from=build /app/apps/cli/package.json apps/cli/
# Links the workspaces (node_modules/@payhooks/* -> packages/*, apps/*) without dev tools.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/payme/dist packages/payme/dist
COPY --from=build /app/packages/payram/dist packages/payram/dist
COPY --from=build /app/packages/payske/dist packages/payske/dist
COPY --from=build /app/packages/robokassa/dist packages/robokassa/dist
COPY --from=build /app/packages/testing/dist packages/testing/dist
COPY --from=build /app/apps/ingress/dist apps/ingress/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY --from=build /app/apps/cli/dist apps/cli/dist

# Files stay owned by root (read-only to the app); the process runs as the image's
# unprivileged "node" user (uid 1000).
USER node

# PORT (webhooks) defaults to 3000, ADMIN_PORT to 3001.
EXPOSE 3000 3001
CMD ["node", "apps/ingress/dist/main.js"]
