# Maestro Server as a container: `docker compose up` with MAESTRO_TOKEN set (see compose.yaml and the README).

# Build: compile TypeScript, bundle the server and build the dashboard with the dev dependencies, then keep only the
# production ones.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY routes ./routes
COPY scripts ./scripts
COPY ui ./ui
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Run: the compiled package and its production dependencies, as the unprivileged `node` user.
FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    SESSION_DIR=/data/manifests \
    SKILLS_DIR=/data/skills \
    MAESTRO_LOCAL_RUNNER=0
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
# /health needs no token. Without MAESTRO_TOKEN the server refuses to listen on 0.0.0.0 and exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/lib/server.js"]
