// The rating API (CloudKitty's v1 and v2) on --rating-port, over the index database: run
// alone by `tally rating-api` and inside `tally serve`.
import type { Logger } from 'pino';
import type { TlsFiles, TokenVerifier } from '@tally/rest';
import { RATING_MIGRATIONS, SqlRatingStore, buildRatingServer, migrateRating, openRatingDatabase, type PriceBook, type RatingDatabase } from '@tally/rating';
import type { Settings } from './config.js';

/**
 * Starts the rating API; resolves to the function that stops it. Given `shared`, it uses
 * that handle on the index database (one per process on SQLite, so that the rating roles'
 * write transactions queue rather than wait on each other's locks) and leaves it open.
 */
export async function startRatingApi(
  s: Settings, log: Logger, api: { tls: TlsFiles | undefined; tokens: TokenVerifier | undefined },
  shared?: { database: RatingDatabase; prices?: () => PriceBook | null },
): Promise<() => Promise<void>> {
  const database = shared?.database ?? await openRatingDatabase(s.indexerUrl);
  const closeDb = (): Promise<void> => (shared ? Promise.resolve() : database.close());
  try {
    await migrateRating(database, RATING_MIGRATIONS);
    const store = new SqlRatingStore(database.db, database.dialect);
    const app = buildRatingServer({
      store, authMode: s.authMode, tokens: api.tokens, currency: s.ratingCurrency, ...(shared?.prices ? { prices: shared.prices } : {}), corsAllowedOrigins: s.corsAllowedOrigins, bodyLimit: s.bodyLimitBytes, https: api.tls, log,
    });
    await app.listen({ host: s.host, port: s.ratingPort });
    const host = s.host.includes(':') ? `[${s.host}]` : s.host;
    // --rating-port 0 takes any free port: say which.
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : s.ratingPort;
    log.info({ url: `${api.tls ? 'https' : 'http'}://${host}:${port}` }, 'Tally rating API listening');
    return async () => {
      await app.close();
      await closeDb();
    };
  } catch (e) {
    await closeDb();
    throw e;
  }
}
