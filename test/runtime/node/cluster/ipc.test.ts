/**
 * The ledger over cluster IPC, on a channel in memory that serializes like node's (JSON): the
 * errors the HTTP layer maps keep their class, so the answers are those of one process.
 */
import { EventEmitter } from 'node:events';
import { onTestFinished } from 'vitest';
import { ReferenceReused, type LedgerView } from '../../../../src/ledger/ledger.js';
import { LedgerUnavailableError } from '../../../../src/ledger/sql-port.js';
import {
  IpcPeer,
  IpcUnanswered,
  ledgerHandlers,
  ledgerOverIpc,
  reviveLedgerError,
  type IpcWire,
} from '../../../../src/runtime/node/cluster/ipc.js';
import { describe, expect, test } from '../../../fixtures.js';
import { admin, buyer, call, expectProblem, startGateway, unique } from '../../../helpers.js';

/** Two ends of one channel; `drop` loses what is sent (a primary that hangs), `closed` refuses it. */
function channel() {
  const state = { drop: false, closed: false };
  const ends = [new EventEmitter(), new EventEmitter()] as const;
  const wire = (from: 0 | 1): IpcWire => ({
    send: async (message) => {
      if (state.closed) throw new Error('channel closed');
      const copy = JSON.parse(JSON.stringify(message)) as unknown;
      if (!state.drop) setImmediate(() => ends[1 - from]!.emit('message', copy));
    },
    onMessage: (listener) => void ends[from].on('message', listener),
  });
  return { child: wire(0), primary: wire(1), state };
}

/** A child's ledger served by a primary holding `ledger`. */
function overIpc(ledger: LedgerView, timeoutMs = 5000) {
  const { child, primary, state } = channel();
  new IpcPeer(primary, { handlers: ledgerHandlers(ledger) });
  const peer = new IpcPeer(child, { revive: reviveLedgerError, timeoutMs });
  return { ledger: ledgerOverIpc(peer), peer, state };
}

const unavailable: LedgerView = {
  credit: () => Promise.reject(new LedgerUnavailableError('connection refused')),
  creditMany: () => Promise.reject(new LedgerUnavailableError('connection refused')),
  balances: () => Promise.reject(new LedgerUnavailableError('connection refused')),
  saleCharges: () => Promise.reject(new LedgerUnavailableError('connection refused')),
  ping: () => Promise.reject(new LedgerUnavailableError('connection refused')),
};

describe('the ledger over IPC', () => {
  test('answers as the ledger does: credit, replay, many credits, balances, sale charges, ping', async ({ ledger }) => {
    const { ledger: remote } = overIpc(ledger);
    const userId = unique('u');
    expect(await remote.credit({ userId, currency: 'CNY', amount: 500, reference: 'r1' })).toEqual({
      created: true,
      balance: 500,
    });
    expect(await remote.credit({ userId, currency: 'CNY', amount: 500, reference: 'r1' })).toEqual({
      created: false,
      balance: 500,
    });
    const many = [
      { userId, currency: 'CNY', amount: 500, reference: 'r1' },
      { userId, currency: 'CNY', amount: 50, reference: 'r2' },
    ];
    expect(await remote.creditMany(many)).toEqual([
      { created: false, balance: 550 },
      { created: true, balance: 550 },
    ]);
    expect(await remote.balances(userId)).toEqual({ CNY: 550 });
    const saleId = unique('sale');
    await ledger.postPayments([
      { paymentId: unique('pay'), orderId: 'o1', saleId, userId, method: 'wallet', amount: 50, currency: 'CNY' },
    ]);
    expect(await remote.saleCharges(saleId)).toEqual({
      charges: 1,
      refunds: 0,
      retained: { CNY: 50 },
      keptByOrder: { o1: 1 },
    });
    await expect(remote.ping()).resolves.toBeUndefined();
  });

  test('keeps the class of ReferenceReused and LedgerUnavailableError; other errors stay plain', async ({ ledger }) => {
    const { ledger: remote } = overIpc(ledger);
    const userId = unique('u');
    await remote.credit({ userId, currency: 'CNY', amount: 500, reference: 'r1' });
    await expect(remote.credit({ userId, currency: 'CNY', amount: 600, reference: 'r1' })).rejects.toBeInstanceOf(
      ReferenceReused,
    );
    await expect(overIpc(unavailable).ledger.ping()).rejects.toBeInstanceOf(LedgerUnavailableError);
    const broken: LedgerView = { ...unavailable, balances: () => Promise.reject(new TypeError('bad row')) };
    const plain = await overIpc(broken)
      .ledger.balances('x')
      .catch((err: Error) => err);
    expect(plain).toBeInstanceOf(Error);
    expect(plain).not.toBeInstanceOf(LedgerUnavailableError);
    expect(plain).toMatchObject({ name: 'TypeError', message: 'bad row' });
  });

  test('a primary that does not answer in time, or is gone, is an unavailable ledger', async ({ ledger }) => {
    const hung = overIpc(ledger, 200);
    hung.state.drop = true;
    const started = Date.now();
    await expect(hung.ledger.ping()).rejects.toBeInstanceOf(LedgerUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    const gone = overIpc(ledger);
    gone.state.closed = true;
    await expect(gone.ledger.balances('x')).rejects.toBeInstanceOf(LedgerUnavailableError);

    const waiting = overIpc(ledger);
    waiting.state.drop = true;
    const pending = waiting.peer.call('ledger.ping');
    waiting.peer.close('process 123 exited');
    await expect(pending).rejects.toBeInstanceOf(IpcUnanswered);
  });

  test('refuses a method it does not serve', async ({ ledger }) => {
    const { peer } = overIpc(ledger);
    await expect(peer.call('ledger.close')).rejects.toThrow(/no IPC method ledger.close/);
  });
});

describe('the HTTP answers of a child whose ledger is over IPC', () => {
  test('are those of one process: 201, then 422 idempotency_key_reused, and the wallet', async ({
    ledger,
    redisUrl,
  }) => {
    const { app, close } = await startGateway(redisUrl, { ledger: overIpc(ledger).ledger });
    onTestFinished(close);
    const b = await buyer();
    const credit = { amount: 1000, currency: 'CNY', reference: 'topup-1' };
    expect((await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, credit)).status).toBe(201);
    expectProblem(
      await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, { ...credit, amount: 999 }),
      422,
      'idempotency_key_reused',
    );
    expect((await call(app, 'GET', '/v1/wallet', { token: b.jwt })).body).toEqual({
      userId: b.userId,
      balances: { CNY: 1000 },
    });
    expect((await call(app, 'GET', '/readyz')).body.checks).toEqual({ redis: 'ok', ledger: 'ok' });
  });

  test('answer 503 unavailable when the primary does not answer', async ({ ledger, redisUrl }) => {
    const hung = overIpc(ledger, 200);
    hung.state.drop = true;
    const { app, close } = await startGateway(redisUrl, { ledger: hung.ledger });
    onTestFinished(close);
    const b = await buyer();
    expectProblem(
      await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, { amount: 1, currency: 'CNY', reference: 'r' }),
      503,
      'unavailable',
    );
    expectProblem(await call(app, 'GET', '/v1/wallet', { token: b.jwt }), 503, 'unavailable');
    const ready = await call(app, 'GET', '/readyz');
    expectProblem(ready, 503, 'unavailable');
    expect(ready.body.checks).toEqual({ redis: 'ok', ledger: 'down' });
  });
});
