/**
 * The platform service's fleet over HTTP.
 *
 *   pnpm --filter @lysnrai/platform-service serve -- --port 8080 [--provider cosmos --endpoint URL --key KEY --database NAME --layout split|single]
 *
 * SIGTERM or SIGINT: stop reaping, stop accepting, drain requests in
 * flight, close the providers, exit 0.
 */

import { isDatastoreError } from '@bytelyst/datastore';
import { ConfigError, HelpRequested } from './cli/args.js';
import { closeFleetStores, openFleetStores, type FleetStoreConfig, type FleetStores } from './modules/fleet/stores.js';
import { buildApp } from './serve/app.js';
import { readServeConfig } from './serve/config.js';
import { FleetService } from './serve/fleet-service.js';
import { startReaper } from './serve/reaper.js';
import { countStoreCalls } from './serve/store-calls.js';

/** Past this, a shutdown that is still draining gives up and exits non-zero. */
const DRAIN_TIMEOUT_MS = 15_000;

async function main(): Promise<void> {
  const config = readServeConfig(process.argv.slice(2), process.env);
  const opened = await openWithRetry(config.store);
  const counted = countStoreCalls(opened);
  const service = new FleetService(counted.stores, config.fleetId);
  const app = buildApp(service, {
    logger: { level: config.logLevel, base: { replica: config.replica, fleetId: config.fleetId } },
    storeCalls: counted.counts,
  });
  const log = app.log;
  const reaper = startReaper({
    coordinator: service.coordinator,
    everyMs: config.reapEveryMs,
    log,
    onReaped: (report) => service.noteReaped(report.reaped),
  });

  let closing: Promise<void> | null = null;
  const shutdown = (signal: string): Promise<void> => {
    closing ??= (async () => {
      log.info({ event: 'shutdown', signal }, 'draining requests in flight');
      const force = setTimeout(() => {
        log.error({ event: 'shutdown_timeout', ms: DRAIN_TIMEOUT_MS }, 'drain took too long; exiting');
        process.exit(1);
      }, DRAIN_TIMEOUT_MS);
      force.unref();
      await reaper.stop();
      await app.close();
      await closeStores(opened);
      log.info({ event: 'stopped' }, 'closed the providers; bye');
    })();
    return closing;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      shutdown(signal).then(
        () => process.exit(0),
        (e: unknown) => {
          log.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  log.info(
    { event: 'listening', port, provider: config.store.provider, layout: config.store.layout, reapEveryMs: config.reapEveryMs },
    `fleet service listening on http://${config.host}:${port}`,
  );
}

/** Replicas starting together may race to create the Cosmos database and containers; the loser retries. */
async function openWithRetry(store: FleetStoreConfig): Promise<FleetStores> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await openFleetStores(store);
    } catch (e) {
      if (attempt >= 3 || !isDatastoreError(e, 'conflict')) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

async function closeStores(stores: FleetStores): Promise<void> {
  await closeFleetStores(stores);
}

main().catch((e: unknown) => {
  if (e instanceof HelpRequested) {
    process.stdout.write(e.message);
    return;
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 2;
    return;
  }
  const detail = isDatastoreError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e);
  process.stderr.write(`serve failed: ${detail}\n`);
  process.exitCode = 1;
});
