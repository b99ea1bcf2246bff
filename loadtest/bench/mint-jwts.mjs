// Mints N buyer JWTs (HS256, 2 h) for the wrk scripts: node mint-jwts.mjs <secret> <n> > file
import { sign } from 'hono/jwt';

const [secret, n = '4000'] = process.argv.slice(2);
const exp = Math.floor(Date.now() / 1000) + 7200;
const lines = [];
for (let i = 0; i < Number(n); i++) lines.push(await sign({ sub: `bench-${i}`, exp }, secret));
process.stdout.write(`${lines.join('\n')}\n`);
