/**
 * Calls between the processes of a cluster, over the IPC channel node:cluster opens to each
 * child: a call carries an id, a method and its arguments; the reply carries the id and a value
 * or an error. Node's cluster and prom-client send messages of their own on the same channel;
 * ours are the ones marked `rushgate`.
 */
import type { Worker } from 'node:cluster';
import { ReferenceReused, type LedgerView } from '../../../ledger/ledger.js';
import { LedgerUnavailableError } from '../../../ledger/sql-port.js';

type Call = { rushgate: 'call'; id: number; method: string; args: unknown[] };
type Reply = { rushgate: 'reply'; id: number; value?: unknown; error?: WireError };
/** An error as it crosses the channel (JSON: the class is lost, its name is kept). */
export type WireError = { name: string; message: string };
export type IpcMessage = Call | Reply;

/** One end of a channel: a child's own `process`, or the primary's handle on one child. */
export interface IpcWire {
  /** Resolves once the message is handed to the channel; rejects when the channel is closed. */
  send(message: IpcMessage): Promise<void>;
  onMessage(listener: (message: unknown) => void): void;
}

/** The other process did not answer: it is gone, or it was too slow. */
export class IpcUnanswered extends Error {
  override name = 'IpcUnanswered';
}

export type IpcHandlers = Record<string, (...args: never[]) => Promise<unknown>>;

export interface IpcPeerOptions {
  /** Methods the other side may call. */
  handlers?: IpcHandlers;
  /** A call not answered within this is rejected with IpcUnanswered (default 5000). */
  timeoutMs?: number;
  /** Turns an error that crossed the channel back into its class. */
  revive?: (error: WireError) => Error;
}

const isMessage = (m: unknown): m is IpcMessage =>
  typeof m === 'object' &&
  m !== null &&
  ((m as { rushgate?: unknown }).rushgate === 'call' || (m as { rushgate?: unknown }).rushgate === 'reply');

const plainError = ({ name, message }: WireError): Error => Object.assign(new Error(message), { name });

/** Both ends of one channel call each other through a peer: ids of calls and replies never meet. */
export class IpcPeer {
  #nextId = 0;
  #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();
  #closed: string | undefined;

  constructor(
    private readonly wire: IpcWire,
    private readonly options: IpcPeerOptions = {},
  ) {
    wire.onMessage((message) => {
      if (!isMessage(message)) return;
      if (message.rushgate === 'call') void this.#answer(message);
      else this.#settle(message);
    });
  }

  /** True once the other process is gone: its calls were rejected and no more are made. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Calls `method` in the other process. */
  call(method: string, ...args: unknown[]): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(new IpcUnanswered(this.#closed));
    const id = this.#nextId++;
    const timeoutMs = this.options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new IpcUnanswered(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.wire.send({ rushgate: 'call', id, method, args }).catch((err: Error) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new IpcUnanswered(`${method}: ${err.message}`));
      });
    });
  }

  /** The other process is gone: rejects what waits for it, at once rather than at the timeout. */
  close(reason: string): void {
    this.#closed ??= reason;
    for (const [id, call] of this.#pending) {
      clearTimeout(call.timer);
      this.#pending.delete(id);
      call.reject(new IpcUnanswered(reason));
    }
  }

  async #answer({ id, method, args }: Call): Promise<void> {
    const handler = Object.hasOwn(this.options.handlers ?? {}, method) ? this.options.handlers![method] : undefined;
    let reply: Reply;
    try {
      if (!handler) throw new Error(`no IPC method ${method}`);
      reply = { rushgate: 'reply', id, value: await handler(...(args as never[])) };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      reply = { rushgate: 'reply', id, error: { name: error.name, message: error.message } };
    }
    // the caller may be gone meanwhile: nobody is left to tell
    await this.wire.send(reply).catch(() => {});
  }

  #settle({ id, value, error }: Reply): void {
    const call = this.#pending.get(id);
    if (!call) return; // answered after its timeout
    clearTimeout(call.timer);
    this.#pending.delete(id);
    if (error) call.reject((this.options.revive ?? plainError)(error));
    else call.resolve(value);
  }
}

type Sender = { send(message: unknown, callback: (error: Error | null) => void): void };

function sendVia(sender: () => Sender | undefined, message: IpcMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      const target = sender();
      if (!target) return reject(new Error('no IPC channel'));
      target.send(message, (err) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err as Error); // ERR_IPC_CHANNEL_CLOSED is thrown, not passed to the callback
    }
  });
}

/** A cluster child's channel to its primary. */
export function processWire(): IpcWire {
  return {
    send: (message) =>
      sendVia(
        () =>
          process.send && process.connected
            ? { send: (m, cb) => process.send!(m, undefined, undefined, cb) }
            : undefined,
        message,
      ),
    onMessage: (listener) => void process.on('message', listener),
  };
}

/** The primary's channel to one child. */
export function workerWire(worker: Worker): IpcWire {
  return {
    send: (message) =>
      sendVia(
        () => (worker.isConnected() ? { send: (m, cb) => worker.send(m as never, undefined, cb) } : undefined),
        message,
      ),
    onMessage: (listener) => void worker.on('message', listener),
  };
}

/** The ledger methods a child may call, served by the process that has the ledger open. */
export function ledgerHandlers(ledger: LedgerView): IpcHandlers {
  return {
    'ledger.credit': (credit: Parameters<LedgerView['credit']>[0]) => ledger.credit(credit),
    'ledger.creditMany': (credits: Parameters<LedgerView['creditMany']>[0]) => ledger.creditMany(credits),
    'ledger.balances': (userId: string) => ledger.balances(userId),
    'ledger.saleCharges': (saleId: string) => ledger.saleCharges(saleId),
    'ledger.ping': () => ledger.ping(),
  };
}

/**
 * The ledger errors the HTTP layer maps (422 `idempotency_key_reused`, 503 `unavailable`) get
 * their class back; others stay plain errors (500), as they would be in one process.
 */
export function reviveLedgerError(error: WireError): Error {
  if (error.name === 'ReferenceReused') return new ReferenceReused();
  if (error.name === 'LedgerUnavailableError') return new LedgerUnavailableError(error.message);
  return plainError(error);
}

/** The primary's ledger as seen from a child; a primary that does not answer is an unavailable ledger. */
export function ledgerOverIpc(peer: IpcPeer): LedgerView {
  const call = async (method: string, ...args: unknown[]) => {
    try {
      return await peer.call(method, ...args);
    } catch (err) {
      if (err instanceof IpcUnanswered)
        throw new LedgerUnavailableError(`the ledger's process did not answer (${err.message})`, { cause: err });
      throw err;
    }
  };
  return {
    credit: async (credit) => (await call('ledger.credit', credit)) as Awaited<ReturnType<LedgerView['credit']>>,
    creditMany: async (credits) =>
      (await call('ledger.creditMany', credits)) as Awaited<ReturnType<LedgerView['creditMany']>>,
    balances: async (userId) => (await call('ledger.balances', userId)) as Record<string, number>,
    saleCharges: async (saleId) =>
      (await call('ledger.saleCharges', saleId)) as Awaited<ReturnType<LedgerView['saleCharges']>>,
    ping: async () => {
      await call('ledger.ping');
    },
  };
}
