# minispod API image. Build: docker build -t minispod .  (docker-compose.yml builds it for you)
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY patches ./patches
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
# postinstall applies the patches, generates the Prisma client and compiles to dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
RUN mkdir -p /app/logs && chown node:node /app/logs
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# 16 MB semi-spaces: against 8 MB, about 10% less CPU per heartbeat under load for 13 MB more peak memory.
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=192", "dist/src/server.js"]
