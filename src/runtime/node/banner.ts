/**
 * The banner `npm start` prints once the gateway listens: where Redis, the ledger and the worker
 * are, the admin token, a demo buyer's JWT and a walk-through that runs as pasted into a shell.
 */
import { sign } from 'hono/jwt';
import { join, resolve } from 'node:path';
import type { Config } from '../../config.js';
import { embeddedLedgerDir } from './adapters/ledger.js';
import { embeddedRedisDir } from './dev/embedded-redis.js';
import type { Secrets } from './dev/secrets.js';

/** `value` as one word for a POSIX shell: single-quoted, with each `'` closed, escaped and reopened. */
const shellWord = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * The banner's walk-through: lines that run as pasted, in order, in a POSIX shell. Ids come back
 * in JSON, so jq lifts them into variables; `<orderId>` placeholders would be shell redirections.
 */
function tryLines(base: string, adminToken: string, demoJwt: string): string[] {
  const json = `-H 'Content-Type: application/json'`;
  return [
    `BASE=${shellWord(base)}`,
    `ADMIN=${shellWord(adminToken)}`,
    `JWT=${shellWord(demoJwt)}`,
    `curl -sS -w '\\n' -X PUT "$BASE/admin/sales/demo" -H "Authorization: Bearer $ADMIN" ${json} -d '{"stock":100,"price":38000,"currency":"CNY"}'`,
    `curl -sS -w '\\n' -X POST "$BASE/admin/wallets/demo/credits" -H "Authorization: Bearer $ADMIN" ${json} -d '{"amount":100000,"currency":"CNY","reference":"topup-1"}'`,
    `ORDER=$(curl -sS -X POST "$BASE/v1/sales/demo/orders" -H "Authorization: Bearer $JWT" ${json} -d '{"quantity":1}'); printf '%s\\n' "$ORDER"`,
    `ORDER_ID=$(printf '%s' "$ORDER" | jq -r .orderId); PAY=$(printf '%s' "$ORDER" | jq -c '{paymentToken, method: "wallet"}')`,
    `PAYMENT=$(curl -sS -X POST "$BASE/v1/orders/$ORDER_ID/payments" -H "Authorization: Bearer $JWT" ${json} -d "$PAY"); printf '%s\\n' "$PAYMENT"`,
    `PAYMENT_ID=$(printf '%s' "$PAYMENT" | jq -r .paymentId)`,
    `curl -sS -w '\\n' "$BASE/v1/payments/$PAYMENT_ID" -H "Authorization: Bearer $JWT"`,
  ];
}

/** A `node -e` line that mints a second buyer's JWT with the gateway's secret, wherever that lives. */
function secondBuyerLine(config: Config, secrets: Secrets): string {
  const secret = secrets.generated.includes('jwtSecret')
    ? `JSON.parse(require("fs").readFileSync(${JSON.stringify(join(config.RUSHGATE_DATA_DIR, 'secrets.json'))},"utf8")).jwtSecret`
    : 'process.env.RUSHGATE_JWT_SECRET';
  const mint = `require("hono/jwt").sign({sub:"buyer2",exp:Math.floor(Date.now()/1000)+3600},${secret}).then(console.log)`;
  return `JWT2=$(node -e ${shellWord(mint)})`;
}

/** Prints the startup banner: where everything is, the secrets to use, and a walk-through to paste. */
export async function banner(
  config: Config,
  secrets: Secrets,
  redisLabel: string,
  embedded: boolean,
  worker: boolean,
  processes: number,
) {
  const base = `http://${config.HOST}:${config.PORT}`;
  const demoJwt = await sign({ sub: 'demo', exp: Math.floor(Date.now() / 1000) + 3600 }, secrets.jwtSecret);
  const indent = (lines: string[]) => lines.map((line) => `  ${line}`);
  const lines = [
    `rushgate listening on ${base}`,
    ...(processes > 1
      ? [
          `processes: ${processes} serving HTTP (RUSHGATE_PROCESSES), plus the primary (pid ${process.pid}) holding the ledger`,
        ]
      : []),
    `redis: ${redisLabel}${embedded ? ` (embedded, AOF in ${embeddedRedisDir(resolve(config.RUSHGATE_DATA_DIR))})` : ''}`,
    `ledger: ${config.DATABASE_URL ? 'Postgres (DATABASE_URL)' : `PGlite in ${embeddedLedgerDir(resolve(config.RUSHGATE_DATA_DIR))}`}; payment worker: ${worker ? (processes > 1 ? 'in the primary process' : 'in this process') : 'off (RUSHGATE_WORKER=off)'}`,
    `payment channels: ${config.RUSHGATE_CHANNELS.length ? `${config.RUSHGATE_CHANNELS.join(', ')} (SIMULATED: no real money)` : 'none (wallet only)'}`,
    `admin token: ${secrets.adminToken}${secrets.generated.includes('adminToken') ? ` (generated, saved in ${config.RUSHGATE_DATA_DIR}/secrets.json)` : ''}`,
    `demo buyer JWT (sub "demo", 1 h): ${demoJwt}`,
    `ops view: open ${base}/admin/ in a browser; any user name, the admin token as password`,
    'try: paste these lines in order into a POSIX shell such as bash (needs curl and jq)',
    ...indent(tryLines(base, secrets.adminToken, demoJwt)),
    `a second buyer's JWT (sub "buyer2", 1 h) into $JWT2, run in the directory npm start runs in${secrets.generated.includes('jwtSecret') ? '' : ' with RUSHGATE_JWT_SECRET exported'}:`,
    ...indent([secondBuyerLine(config, secrets)]),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
