import { describe, expect, it } from 'vitest';
import { Ledger, ReferenceReused, type PaymentPosting } from '../../src/ledger/ledger.js';
import { sqlState } from '../../src/ledger/sql-port.js';
import { unique } from '../helpers.js';
import { engines, openEngine } from './engines.js';

describe.each(engines)('ledger on %s', (engine, make) => {
  let ledgerPromise: Promise<{ ledger: Ledger; sql: Awaited<ReturnType<typeof make>> }> | undefined;
  const setup = () =>
    (ledgerPromise ??= (async () => {
      const sql = await openEngine(make);
      return { sql, ledger: await Ledger.open(sql) };
    })());

  const payment = (userId: string, over: Partial<PaymentPosting> = {}): PaymentPosting => ({
    paymentId: unique('pay'),
    orderId: unique('ord'),
    saleId: 'ledger-sale',
    userId,
    method: 'wallet',
    amount: 100,
    currency: 'CNY',
    ...over,
  });

  it('credits a wallet once per reference', async () => {
    const { ledger } = await setup();
    const userId = unique('u');
    expect(await ledger.credit({ userId, currency: 'CNY', amount: 500, reference: 'topup-1' })).toEqual({
      created: true,
      balance: 500,
    });
    expect(await ledger.credit({ userId, currency: 'CNY', amount: 500, reference: 'topup-1' })).toEqual({
      created: false,
      balance: 500,
    });
    await expect(ledger.credit({ userId, currency: 'CNY', amount: 501, reference: 'topup-1' })).rejects.toThrow(
      ReferenceReused,
    );
    await expect(ledger.credit({ userId, currency: 'USD', amount: 500, reference: 'topup-1' })).rejects.toThrow(
      ReferenceReused,
    );
    await ledger.credit({ userId, currency: 'USD', amount: 7, reference: 'topup-2' });
    expect(await ledger.balances(userId)).toEqual({ CNY: 500, USD: 7 });
  });

  it('posts a batch in one go, and a redelivered batch posts nothing twice', async () => {
    const { ledger } = await setup();
    const a = unique('u');
    const b = unique('u');
    await ledger.credit({ userId: a, currency: 'CNY', amount: 250, reference: 'r' });
    await ledger.credit({ userId: b, currency: 'CNY', amount: 50, reference: 'r' });
    const batch = [payment(a), payment(a), payment(b), payment(a)];
    const first = await ledger.postPayments(batch);
    expect(batch.map((p) => first.get(p.paymentId))).toEqual([
      { status: 'succeeded' },
      { status: 'succeeded' },
      { status: 'failed', code: 'insufficient_funds' },
      { status: 'failed', code: 'insufficient_funds' },
    ]);
    expect(await ledger.balances(a)).toEqual({ CNY: 50 });
    expect(await ledger.balances(b)).toEqual({ CNY: 50 });
    const again = await ledger.postPayments(batch.slice(0, 2));
    expect(batch.slice(0, 2).map((p) => again.get(p.paymentId))).toEqual([
      { status: 'succeeded' },
      { status: 'succeeded' },
    ]);
    expect(await ledger.balances(a)).toEqual({ CNY: 50 });
  });

  it('a second success for one order is refunded automatically: one retained charge', async () => {
    const { ledger } = await setup();
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 1000, reference: 'r' });
    const orderId = unique('ord');
    const first = payment(userId, { orderId });
    const second = payment(userId, { orderId });
    const viaChannel = payment(userId, { orderId, method: 'alipay' });
    const outcomes = await ledger.postPayments([first, second]);
    expect(outcomes.get(first.paymentId)).toEqual({ status: 'succeeded' });
    expect(outcomes.get(second.paymentId)).toEqual({ status: 'refunded' });
    expect((await ledger.postPayments([viaChannel])).get(viaChannel.paymentId)).toEqual({ status: 'refunded' });
    expect(await ledger.balances(userId)).toEqual({ CNY: 900 });
    expect(await ledger.retainedCharges(orderId)).toBe(1);
  });

  it('a wallet payment for an order the ledger already charged is refunded without funds, never insufficient_funds', async () => {
    const { ledger } = await setup();
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 100, reference: 'r' });
    const orderId = unique('ord');
    const first = payment(userId, { orderId });
    expect((await ledger.postPayments([first])).get(first.paymentId)).toEqual({ status: 'succeeded' });
    // the wallet is empty now: a second payment for the same order (its token accepted again
    // after Redis lost its last second) must not be decided by the wallet's balance
    const again = payment(userId, { orderId });
    expect((await ledger.postPayments([again])).get(again.paymentId)).toEqual({ status: 'refunded' });
    expect(await ledger.balances(userId)).toEqual({ CNY: 0 });
    expect(await ledger.retainedCharges(orderId)).toBe(1);
    expect((await ledger.audit()).unbalancedCurrencies).toEqual([]);
  });

  it("refunding a sale's latest kept charges returns the money once and leaves them out of the kept charges", async () => {
    const { ledger } = await setup();
    const saleId = unique('sale');
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 300, reference: 'r' });
    const posted = [payment(userId, { saleId }), payment(userId, { saleId }), payment(userId, { saleId })];
    for (const p of posted) await ledger.postPayments([p]);
    const { total, latest } = await ledger.latestKeptCharges(saleId, 1);
    expect(total).toBe(3);
    expect(latest.map((c) => c.paymentId)).toEqual([posted[2]!.paymentId]);
    expect(latest[0]).toMatchObject({
      orderId: posted[2]!.orderId,
      userId,
      method: 'wallet',
      amount: 100,
      currency: 'CNY',
    });
    expect(await ledger.refundCharges([posted[2]!.paymentId])).toEqual([posted[2]!.paymentId]);
    expect(await ledger.refundCharges([posted[2]!.paymentId])).toEqual([]);
    expect(await ledger.balances(userId)).toEqual({ CNY: 100 });
    expect((await ledger.latestKeptCharges(saleId, 10)).total).toBe(2);
    expect(await ledger.retainedCharges(posted[2]!.orderId)).toBe(0);
    const charges = await ledger.saleCharges(saleId);
    expect(charges.keptByOrder[posted[2]!.orderId]).toBe(0);
    expect(charges.retained).toEqual({ CNY: 200 });
    // paged in creation order, every kept charge once
    const seen: string[] = [];
    let after: Awaited<ReturnType<typeof ledger.keptCharges>>[number] | undefined;
    for (;;) {
      const page = await ledger.keptCharges({ after, limit: 1 });
      if (page.length === 0) break;
      seen.push(...page.map((c) => c.paymentId));
      after = page.at(-1);
    }
    expect(seen.filter((id) => posted.some((p) => p.paymentId === id))).toEqual([
      posted[0]!.paymentId,
      posted[1]!.paymentId,
    ]);
    expect((await ledger.audit()).unbalancedCurrencies).toEqual([]);
  });

  it('the database itself refuses a duplicate transfer id, a second retained charge, a negative wallet, and edits', async () => {
    const { ledger, sql } = await setup();
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 100, reference: 'r' });
    const p = payment(userId);
    await ledger.postPayments([p]);
    const insert = (id: string, retained: boolean) =>
      sql.query(
        `insert into ledger_transfers (id, kind, debit_account, credit_account, amount, currency, order_id, retained)
         values ($1, 'charge', $2, $3, 1, 'CNY', $4, $5)`,
        [id, `wallet:${userId}:CNY`, 'merchant:ledger-sale:CNY', p.orderId, retained],
      );
    const state = (q: Promise<unknown>) =>
      q.then(
        () => 'ok',
        (e: unknown) => sqlState(e),
      );
    expect(await state(insert(p.paymentId, false))).toBe('23505');
    expect(await state(insert(unique('pay'), true))).toBe('23505');
    expect(
      await state(sql.query(`update ledger_accounts set balance = -1 where id = $1`, [`wallet:${userId}:CNY`])),
    ).toBe('23514');
    expect(await state(sql.query(`update ledger_transfers set amount = 2 where id = $1`, [p.paymentId]))).not.toBe(
      'ok',
    );
    expect(await state(sql.query(`delete from ledger_transfers where id = $1`, [p.paymentId]))).not.toBe('ok');
  });

  it('a concurrent double spend of one wallet never overdraws it (10 batches at once, funds for 3)', async () => {
    const { ledger } = await setup();
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 300, reference: 'r' });
    const batches = Array.from({ length: 10 }, () => [payment(userId)]);
    const results = await Promise.all(batches.map((b) => ledger.postPayments(b)));
    const succeeded = results.filter((r) => [...r.values()][0]!.status === 'succeeded');
    expect(succeeded).toHaveLength(3);
    expect(await ledger.balances(userId)).toEqual({ CNY: 0 });
  });

  it('the same payment posted by two workers at once is posted once', async () => {
    const { ledger } = await setup();
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 1000, reference: 'r' });
    const p = payment(userId);
    const results = await Promise.all(Array.from({ length: 6 }, () => ledger.postPayments([p, payment(userId)])));
    for (const r of results) expect(r.get(p.paymentId)).toEqual({ status: 'succeeded' });
    expect(await ledger.balances(userId)).toEqual({ CNY: 1000 - 100 - 6 * 100 });
  });

  it('credit references of two users never collide, whatever their ids hold', async () => {
    const { ledger } = await setup();
    const a = unique('a');
    expect((await ledger.credit({ userId: a, currency: 'CNY', amount: 10, reference: 'b:x' })).created).toBe(true);
    expect((await ledger.credit({ userId: `${a}:b`, currency: 'CNY', amount: 10, reference: 'x' })).created).toBe(true);
  });

  it('a payment recorded failed is never kept: a wallet one stays failed, a late channel success is refunded', async () => {
    const { ledger } = await setup();
    const userId = unique('u');
    const broke = payment(userId);
    expect((await ledger.postPayments([broke])).get(broke.paymentId)).toEqual({
      status: 'failed',
      code: 'insufficient_funds',
    });
    await ledger.credit({ userId, currency: 'CNY', amount: 1000, reference: 'r' });
    // a redelivered copy after the top-up: still failed, nothing debited
    expect((await ledger.postPayments([broke])).get(broke.paymentId)).toEqual({
      status: 'failed',
      code: 'insufficient_funds',
    });
    expect(await ledger.balances(userId)).toEqual({ CNY: 1000 });
    // a channel said failed, then the money arrived after all: refunded, not kept
    const late = payment(userId, { method: 'alipay' });
    expect((await ledger.fail([{ paymentId: late.paymentId, code: 'abandoned' }])).get(late.paymentId)).toEqual({
      status: 'failed',
      code: 'abandoned',
    });
    expect((await ledger.postPayments([late])).get(late.paymentId)).toEqual({ status: 'refunded' });
    expect(await ledger.retainedCharges(late.orderId)).toBe(0);
    // and a charge posted first wins over a failure decided after it
    const first = payment(userId, { method: 'alipay' });
    await ledger.postPayments([first]);
    expect((await ledger.fail([{ paymentId: first.paymentId, code: 'timeout' }])).get(first.paymentId)).toEqual({
      status: 'succeeded',
    });
  });

  it('a failure and a success decided at once for one payment: exactly one wins', async () => {
    const { ledger } = await setup();
    for (let i = 0; i < 10; i++) {
      const p = payment(unique('u'), { method: 'alipay' });
      const [posted, failed] = await Promise.all([
        ledger.postPayments([p]),
        ledger.fail([{ paymentId: p.paymentId, code: 'x' }]),
      ]);
      const a = posted.get(p.paymentId)!.status;
      const b = failed.get(p.paymentId)!.status;
      // either the charge came first (both say succeeded) or the failure did (refunded + failed)
      expect([`${a}/${b}`]).toContain(a === 'succeeded' ? 'succeeded/succeeded' : 'refunded/failed');
      expect(await ledger.retainedCharges(p.orderId)).toBe(a === 'succeeded' ? 1 : 0);
    }
  });

  it('credits many wallets in one transaction, each once per reference; a reused reference credits nothing', async () => {
    const { ledger } = await setup();
    const [a, b, c] = [unique('u'), unique('u'), unique('u')];
    const batch = [
      { userId: a, currency: 'CNY', amount: 500, reference: 'r1' },
      { userId: b, currency: 'CNY', amount: 300, reference: 'r1' },
      { userId: a, currency: 'CNY', amount: 200, reference: 'r2' },
    ];
    expect(await ledger.creditMany(batch)).toEqual([
      { created: true, balance: 700 },
      { created: true, balance: 300 },
      { created: true, balance: 700 },
    ]);
    expect(await ledger.creditMany(batch)).toEqual([
      { created: false, balance: 700 },
      { created: false, balance: 300 },
      { created: false, balance: 700 },
    ]);
    // one reference reused for another amount: the whole batch is refused, the new credit too
    await expect(
      ledger.creditMany([
        { userId: c, currency: 'CNY', amount: 1, reference: 'r1' },
        { ...batch[1]!, amount: 301 },
      ]),
    ).rejects.toThrow(ReferenceReused);
    expect(await ledger.balances(c)).toEqual({});
    // the same credit twice in one batch is one credit; twice with two amounts is refused
    const twice = { userId: c, currency: 'CNY', amount: 100, reference: 'x' };
    expect(await ledger.creditMany([twice, twice])).toEqual([
      { created: true, balance: 100 },
      { created: false, balance: 100 },
    ]);
    await expect(
      ledger.creditMany([
        { ...twice, reference: 'y' },
        { ...twice, reference: 'y', amount: 99 },
      ]),
    ).rejects.toThrow(ReferenceReused);
    expect(await ledger.balances(c)).toEqual({ CNY: 100 });
    expect(await ledger.creditMany([])).toEqual([]);
  });

  it("a sale's charges count what its transfers hold, and show an order kept charged twice", async () => {
    const { ledger } = await setup();
    const saleId = unique('sale');
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 1000, reference: 'r' });
    const [o1, o2, o3] = [unique('ord'), unique('ord'), unique('ord')];
    const broke = payment(unique('u'), { saleId, orderId: o3 });
    await ledger.postPayments([
      payment(userId, { saleId, orderId: o1 }),
      payment(userId, { saleId, orderId: o1 }), // refunded: a second success for o1
      payment(userId, { saleId, orderId: o2, method: 'alipay', amount: 250 }),
      payment(userId, { orderId: o3 }), // another sale's
      broke, // failed: nothing posted
    ]);
    expect(await ledger.saleCharges(saleId)).toEqual({
      charges: 3,
      refunds: 1,
      retained: { CNY: 350 },
      keptByOrder: { [o1]: 1, [o2]: 1 },
    });
    expect(await ledger.saleCharges(unique('sale'))).toEqual({ charges: 0, refunds: 0, retained: {}, keptByOrder: {} });
    // a charge kept without being retained is what the constraints cannot see: forged on a
    // ledger of its own (a fresh in-memory PGlite), so no other test's audit sees it. A Postgres
    // server is shared by every test file, so the forgery is not made there
    if (engine !== 'PGlite') return;
    const sql = await openEngine(make);
    const own = await Ledger.open(sql);
    await own.credit({ userId, currency: 'CNY', amount: 1000, reference: 'r' });
    await own.postPayments([payment(userId, { saleId, orderId: o1 })]);
    await sql.query(
      `insert into ledger_transfers (id, kind, debit_account, credit_account, amount, currency, order_id, retained)
       values ($1, 'charge', $2, $3, 100, 'CNY', $4, false)`,
      [unique('pay'), `wallet:${userId}:CNY`, `merchant:${saleId}:CNY`, o1],
    );
    expect((await own.saleCharges(saleId)).keptByOrder).toEqual({ [o1]: 2 });
  });

  it('after everything above, money is conserved and nothing is charged twice', async () => {
    const { ledger } = await setup();
    expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
  });
});
