/**
 * The sale gate on a fake clock: how long it trusts Redis, when it checks again, and that a late
 * or failed check cannot bring back an out-of-date answer or turn into a check per request.
 */
import { describe, expect, it } from 'vitest';
import { SaleGate } from '../../src/sales/sale-gate.js';

type State = 'sold_out' | 'closed' | null;

function gate() {
  let nowMs = 0;
  const checks: { saleId: string; answer: (s: State) => void; fail: () => void }[] = [];
  const g = new SaleGate(
    1000,
    () => nowMs,
    (saleId) =>
      new Promise<State>((answer, fail) => checks.push({ saleId, answer, fail: () => fail(new Error('down')) })),
  );
  return { g, checks, at: (ms: number) => (nowMs = ms) };
}
const code = (g: SaleGate, saleId = 's') => g.refusal(saleId)?.code ?? null;
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('SaleGate', () => {
  it('refuses from memory, checks Redis once from 80% of the window, and stays fresh', async () => {
    const { g, checks, at } = gate();
    g.remember('s', 'sold_out');
    at(799);
    expect(code(g)).toBe('sold_out');
    expect(checks).toHaveLength(0);
    at(800);
    expect(code(g)).toBe('sold_out');
    expect(code(g)).toBe('sold_out');
    expect(checks).toHaveLength(1); // one check, however many refusals
    checks[0]!.answer('sold_out');
    await settle();
    at(1500); // trusted from the question (800), not past 1800 without a new check
    expect(code(g)).toBe('sold_out');
    expect(checks).toHaveLength(1);
    at(1600);
    expect(code(g)).toBe('sold_out');
    expect(checks).toHaveLength(2);
  });

  it('lets orders through once the check says the sale has stock again', async () => {
    const { g, checks, at } = gate();
    g.remember('s', 'sold_out');
    at(900);
    code(g);
    checks[0]!.answer(null);
    await settle();
    expect(code(g)).toBeNull();
  });

  it('ignores a late answer when newer news came meanwhile', async () => {
    const { g, checks, at } = gate();
    g.remember('s', 'sold_out');
    at(850);
    code(g);
    g.remember('s', null); // say, an admin raised the stock
    checks[0]!.answer('sold_out');
    await settle();
    expect(code(g)).toBeNull();
    g.remember('s', 'closed');
    at(1700);
    code(g);
    g.remember('s', 'sold_out'); // relearned while the check was out
    checks[1]!.answer('closed');
    await settle();
    expect(code(g)).toBe('sold_out');
  });

  it('does not check again after a failed check, and gives up the memory at twice the window', async () => {
    const { g, checks, at } = gate();
    g.remember('s', 'sold_out');
    at(900);
    code(g);
    checks[0]!.fail();
    await settle();
    for (let i = 0; i < 100; i++) expect(code(g)).toBe('sold_out');
    expect(checks).toHaveLength(1);
    at(1999);
    expect(code(g)).toBe('sold_out');
    at(2000);
    expect(code(g)).toBeNull(); // the next request asks Redis itself
  });

  it('without a check, trusts Redis for one window only', () => {
    let nowMs = 0;
    const g = new SaleGate(1000, () => nowMs);
    g.remember('s', 'closed');
    nowMs = 999;
    expect(code(g)).toBe('sale_closed');
    nowMs = 1000;
    expect(code(g)).toBeNull();
  });

  it('with deferChecks, starts a due check only in the checkDue step, once, and applies its answer', async () => {
    let nowMs = 0;
    const asked: string[] = [];
    const g = new SaleGate(
      1000,
      () => nowMs,
      async (saleId) => {
        asked.push(saleId);
        return null;
      },
      { deferChecks: true },
    );
    g.remember('s', 'sold_out');
    nowMs = 850;
    expect(code(g)).toBe('sold_out');
    expect(code(g)).toBe('sold_out');
    expect(asked).toEqual([]); // nothing runs outside the step (no timer, no promise kept)
    expect(g.dueChecks).toBe(1);
    await g.checkDue();
    expect(asked).toEqual(['s']);
    expect(g.dueChecks).toBe(0);
    expect(code(g)).toBeNull(); // the check said the sale has stock again
  });
});
