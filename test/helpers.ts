/**
 * The test support modules under one import, for files written before they were split (and for
 * files that want several at once). New tests take what they need from test/fixtures.ts (the
 * redis, app, sale and buyer fixtures) or from test/support/<job>.ts:
 *   names.ts       unique ids          secrets.ts  test secrets, buyer JWTs
 *   redis.ts       the file's Redis    app.ts      the gateway under test, served or not
 *   http.ts        requests, problems  invariants.ts  the sale counters checked against orders
 *   keys.ts        key patterns from src/redis/keys.ts
 *   wait.ts        waitFor(condition), parallel()
 */
export { PERMISSIVE_POLICIES, serveApp, startGateway, testApp, type App, type Gateway } from './support/app.js';
export { admin, call, createSale, expectProblem, pay, placeOrder, type CallOptions } from './support/http.js';
export { saleCounters } from './support/invariants.js';
export { saleKeyPattern } from './support/keys.js';
export { unique } from './support/names.js';
export {
  onCluster,
  openRedis,
  redisEnv,
  redisUrl,
  scanKeys,
} from './support/redis.js';
export { ADMIN_TOKEN, CHANNEL_SECRET, JWT_SECRET, TOKEN_SECRET, buyer, buyerJwt } from './support/secrets.js';
export { parallel, waitFor } from './support/wait.js';
