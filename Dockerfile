# quietcut image for docker-compose.yml. Debian bookworm, whose PostgreSQL is 15: pg_dump must be
# at least as new as the server it dumps, and the compose file runs postgres:15.

FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends postgresql-client-15 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The backup volume is mounted here; created with the node user's ownership so a fresh named
# volume inherits it and quietcut does not need root.
RUN mkdir -p /var/lib/quietcut/backups /etc/quietcut && chown -R node:node /var/lib/quietcut
USER node
EXPOSE 6432 9187
CMD ["node", "dist/cli/main.js", "start", "--config", "/etc/quietcut/quietcut.yaml"]
