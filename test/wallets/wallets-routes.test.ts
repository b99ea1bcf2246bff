/** The admin credit routes against the real ledger (PGlite): one wallet, or many in one call. */
import { describe, expect, test, useLedger } from '../fixtures.js';
import { MAX_CREDITS_PER_CALL } from '../../src/wallets/wallets-routes.js';
import { admin, buyer, call, expectProblem, unique } from '../helpers.js';

useLedger();

describe('POST /admin/wallets/credits', () => {
  test('credits many wallets in one call, each once per reference, answering each balance in order', async ({
    app,
    ledger,
  }) => {
    const [a, b] = [unique('u'), unique('u')];
    const credits = [
      { userId: a, amount: 500, currency: 'CNY', reference: 'k6' },
      { userId: b, amount: 300, currency: 'CNY', reference: 'k6' },
      { userId: a, amount: 200, currency: 'CNY', reference: 'k6-2' },
    ];
    expect(await admin(app, 'POST', '/admin/wallets/credits', { credits })).toMatchObject({
      status: 201,
      body: {
        credits: [
          { userId: a, currency: 'CNY', balance: 700, created: true },
          { userId: b, currency: 'CNY', balance: 300, created: true },
          { userId: a, currency: 'CNY', balance: 700, created: true },
        ],
      },
    });
    // the same call again credits nothing: 200, every credit created false
    const again = await admin(app, 'POST', '/admin/wallets/credits', { credits });
    expect(again.status).toBe(200);
    expect(again.body.credits.map((c: { created: boolean; balance: number }) => [c.created, c.balance])).toEqual([
      [false, 700],
      [false, 300],
      [false, 700],
    ]);
    // a new credit beside replays is 201
    const more = await admin(app, 'POST', '/admin/wallets/credits', {
      credits: [credits[0], { ...credits[1]!, reference: 'k6-3' }],
    });
    expect(more.status).toBe(201);
    expect(await ledger.balances(b)).toEqual({ CNY: 600 });
  });

  test('refuses bad input with 400 and a reused reference with 422, crediting nothing of the call', async ({
    app,
    ledger,
  }) => {
    const userId = unique('u');
    const fresh = unique('u');
    const good = { userId, amount: 100, currency: 'CNY', reference: 'r' };
    expect((await admin(app, 'POST', '/admin/wallets/credits', { credits: [good] })).status).toBe(201);
    const bad = [
      {},
      { credits: [] },
      { credits: good },
      { credits: [good], extra: 1 },
      { credits: [{ ...good, userId: 'bad user' }] },
      { credits: [{ ...good, amount: 0 }] },
      { credits: [{ ...good, amount: 1.5 }] },
      { credits: [{ ...good, currency: 'yuan' }] },
      { credits: [{ ...good, reference: '' }] },
      { credits: [{ ...good, extra: 1 }] },
      {
        credits: [
          { userId: fresh, amount: 1, currency: 'CNY', reference: 'r' },
          { ...good, amount: 'x' },
        ],
      },
      // short ids, so the call stays under the 16 KiB body limit and meets the cap
      {
        credits: Array.from({ length: MAX_CREDITS_PER_CALL + 1 }, (_, i) => ({
          userId: `m${i}`,
          amount: 1,
          currency: 'CNY',
          reference: 'r',
        })),
      },
    ];
    for (const body of bad)
      expectProblem(await admin(app, 'POST', '/admin/wallets/credits', body), 400, 'invalid_request');
    expect(await ledger.balances('m0')).toEqual({});
    expectProblem(
      await admin(app, 'POST', '/admin/wallets/credits', {
        credits: [
          { userId: fresh, amount: 1, currency: 'CNY', reference: 'r' },
          { ...good, amount: 101 },
        ],
      }),
      422,
      'idempotency_key_reused',
    );
    expect(await ledger.balances(fresh)).toEqual({});
    expect(await ledger.balances(userId)).toEqual({ CNY: 100 });
    expect(
      (await call(app, 'POST', '/admin/wallets/credits', { body: { credits: [good] }, token: (await buyer()).jwt }))
        .status,
    ).toBe(401);
  });

  test('a one-segment path other than credits is 404 and credits nothing', async ({ app, ledger }) => {
    const userId = unique('u');
    const credits = [{ userId, amount: 100, currency: 'CNY', reference: 'r' }];
    expectProblem(await admin(app, 'POST', '/admin/wallets/credit', { credits }), 404, 'not_found');
    expectProblem(await admin(app, 'POST', `/admin/wallets/${userId}`, { credits }), 404, 'not_found');
    expect(await ledger.balances(userId)).toEqual({});
  });
});
