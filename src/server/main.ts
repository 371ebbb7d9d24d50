import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seedDemo } from '../../seeds/demo.ts';
import { endLedgerFeeds } from '../services/event-feed.ts';
import { integrateAll, startSweeper } from '../services/integrate.ts';
import { startSubscriptionWorker } from '../services/subscription-worker.ts';
import { startCaptureWorker } from '../services/capture-jobs.ts';
import { flushScanCounts } from '../services/scan-counter.ts';
import { startHousekeeping } from '../services/housekeeping.ts';
import { loadLogSigner, loadOperatorKey, openConfiguredDatabase, prepareDatabase } from './bootstrap.ts';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { createApp } from './yoga.ts';
import { keepStatistics } from '../db/statistics.ts';

export interface RunningServer {
  url: string;
  server: Server;
  /** Stops accepting, waits for in-flight requests, closes the database. Idempotent. */
  close(): Promise<void>;
}

/** Starts the HTTP server; prints where data lives, the URL and (first time only) the operator key. */
export async function startServer(config: Config, out: (line: string) => void = console.log, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  // The data folder's lock comes first: a refused second server must not touch the folder or the database.
  const handle = await openConfiguredDatabase(config, 'serve', logger);
  let operatorKey: ReturnType<typeof loadOperatorKey>;
  let signer: ReturnType<typeof loadLogSigner>;
  try {
    operatorKey = loadOperatorKey(config);
    signer = loadLogSigner(config);
    await prepareDatabase(handle);
    // Events a previous process committed but did not live to integrate (kill -9) go into the log before anything else.
    const recovered = await integrateAll(handle.db, signer);
    if (recovered > 0) logger.info('integrated pending events left by a previous run', { events: recovered });
    if (config.seedDemo) {
      const seeded = await seedDemo({ db: handle.db, signer, now: () => new Date(), maxClockSkewMs: config.maxClockSkewMs }, config.dataDir);
      if (seeded) out(`Seeded demo data; demo actors' API keys are in ${seeded.keysFile}`);
    }
  } catch (e) {
    await handle.close();
    throw e;
  }
  const sweeper = startSweeper(handle.db, signer, (e) => logger.error('integration sweep failed', { error: e }));
  // EPCIS capture jobs: queued ones (also those a previous process left, kill -9) are captured in the background. On
  // PGlite this process owns the data folder, so a job still running is an orphan: requeued at once.
  let captureWorker: Awaited<ReturnType<typeof startCaptureWorker>>;
  try {
    captureWorker = await startCaptureWorker(
      { db: handle.db, signer, now: () => new Date(), maxClockSkewMs: config.maxClockSkewMs, fieldLimits: config.fieldLimits },
      {
        exclusive: handle.engine === 'pglite',
        onError: (error, jobId) => logger.error('capture job failed unexpectedly', { jobId, error }),
        onLoopError: (error) => logger.error('capture worker failed', { error }),
      },
    );
  } catch (e) {
    await sweeper.stop();
    await handle.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  const app = createApp({ db: handle.db, config, operatorKeyHash: operatorKey.hash, signer, now: () => new Date(), draining: () => closing !== undefined }, logger);
  const server = createServer(app);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (e) {
    // E.g. the port is taken: close the database (and release the data folder) before reporting it.
    await captureWorker.stop();
    await sweeper.stop();
    await handle.close();
    throw e;
  }
  const { port } = server.address() as AddressInfo;
  // Webhook deliveries of EPCIS query subscriptions, from this process (a database lease keeps processes apart).
  const subscriptions = startSubscriptionWorker({ db: handle.db, now: () => new Date() }, { onError: (error) => logger.error('subscription delivery round failed', { error }) });
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host}:${port}/graphql`;
  out(`Provenant ${handle.engine === 'pglite' ? 'on embedded PGlite at' : 'on PostgreSQL'} ${handle.where}`);
  out(`Data folder: ${config.dataDir}`);
  out(`GraphQL (GraphiQL in a browser): ${url}`);
  out(`Auditor explorer: http://${host}:${port}/explorer`);
  out(`Log ${signer.origin}; verifier key: ${signer.verifierKey}`);
  if (operatorKey.generated) {
    out(`Generated operator API key (shown once, kept in ${operatorKey.file}):`);
    out(`  ${operatorKey.generated}`);
  }
  // Embedded PGlite has no autovacuum: keep planner statistics current (after bulk writes and periodically).
  const statistics = handle.engine === 'pglite' ? keepStatistics(handle.db, { onError: (e) => logger.warn('ANALYZE failed', { err: (e as Error).message }) }) : null;
  // Prepared signed events long expired are deleted (an hour after expiry), on either engine.
  const housekeeping = startHousekeeping(handle.db, { now: () => new Date(), onError: (error) => logger.error('housekeeping failed', { error }) });
  // While shutting down, every response closes its connection, so keep-alive clients cannot hold the server open.
  server.on('request', (_req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    // Requests already in flight at shutdown: drop their connection as soon as they are answered.
    res.on('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });
  const close = () =>
    (closing ??= (async () => {
      // Open SSE subscriptions would hold server.close() until the force timeout; complete them so clients resume.
      endLedgerFeeds(handle.db);
      // Deliveries in flight are aborted; their subscriptions resume from their cursor at the next start.
      const stoppingSubscriptions = subscriptions.stop();
      statistics?.stop();
      const stoppingHousekeeping = housekeeping.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await stoppingSubscriptions;
      await stoppingHousekeeping;
      // The capture job in hand finishes (its outcome recorded) before the database closes; queued ones wait for the next start.
      await captureWorker.stop();
      await sweeper.stop();
      // Scans buffered in memory are written before the database closes.
      await flushScanCounts(handle.db).catch((error) => logger.error('writing scan counts failed', { error }));
      await handle.close();
    })());
  return { url, server, close };
}

/** `provenant serve`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, console.log, logger);
  const stop = (signal: string) => {
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown timed out after 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (e) => {
        logger.error('error during shutdown', { error: e });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
