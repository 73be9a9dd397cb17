# scrapeflow image: the CLI, workers and HTTP service (one image, the command picks the role).
# Multi-stage: the build stage compiles TypeScript and bundles the workflows; the runtime stage holds only
# production dependencies and the compiled output, and runs as the unprivileged `node` user.
# No browser is installed: scrape workers call OmniScrape over HTTP, and the browser worker drives
# OmniScrape's Browser-as-a-Service over WebSocket (OMNISCRAPE_BROWSER_URL).

FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY scripts ./scripts
COPY bin ./bin
# The product only: devkit/ (local API, demo site, dev stack) is the repository checkout's, not the image's.
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    SCRAPEFLOW_DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/bin ./bin
COPY --from=build --chown=root:root /app/dist/src ./dist/src
COPY --from=build --chown=root:root /app/dist/workflow-bundle.js ./dist/workflow-bundle.js
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8787
ENTRYPOINT ["node", "bin/scrapeflow"]
CMD ["--help"]
