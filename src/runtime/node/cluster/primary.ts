/**
 * Multi-process mode, the primary's side: forks the HTTP-serving children (they share the
 * listening socket through node:cluster), answers their ledger and metrics calls over IPC,
 * replaces a child that dies, and stops them all on shutdown.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Registry } from 'prom-client';
import type { LedgerView } from '../../../ledger/ledger.js';
import type { Logger } from '../../../logger.js';
import { IpcPeer, ledgerHandlers, workerWire, type IpcHandlers } from './ipc.js';
import { sumProcesses, type ProcessSeries } from '../adapters/metrics.js';

/** A child that lived less than this counts as a crash in a row; one that lived longer resets the backoff. */
const STABLE_MS = 10_000;
const FIRST_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;
/** A child not gone this long after SIGTERM is killed. */
const STOP_GRACE_MS = 10_000;
/** Under the child's own 5 s wait, so a scrape fails in the primary rather than times out twice. */
const CHILD_METRICS_TIMEOUT_MS = 2_000;

/** Delay before the next replacement: 0.1 s, doubling with each short-lived child in a row, at most 10 s. */
export const restartDelayMs = (crashesInARow: number) =>
  Math.min(FIRST_RESTART_MS * 2 ** Math.max(0, crashesInARow - 1), MAX_RESTART_MS);

export interface GatewayClusterOptions {
  processes: number;
  /** Added to each child's environment: where Redis is, the secrets, the worker off. */
  env: Record<string, string>;
  /** The one ledger; children reach it over IPC. */
  ledger: LedgerView;
  /** The primary's own series (its payment worker's outcomes, its Redis calls). */
  registry: Registry;
  log: Logger;
}

interface Child {
  worker: Worker;
  peer: IpcPeer;
  bornMs: number;
  /** Serving HTTP (and so answering IPC calls). */
  listening: boolean;
}

/** Why startup failed: a child that exited before every child was listening. */
export class ChildExitedAtStartup extends Error {
  override name = 'ChildExitedAtStartup';
  constructor(
    readonly code: number | null,
    readonly signal: string | null,
  ) {
    super(`a gateway process exited during startup (${signal ?? `code ${code}`})`);
  }
}

export class GatewayCluster {
  readonly #children = new Map<number, Child>();
  readonly #handlers: IpcHandlers;
  #crashesInARow = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #ready = false;

  constructor(private readonly options: GatewayClusterOptions) {
    this.#handlers = { ...ledgerHandlers(options.ledger), 'metrics.cluster': () => this.#clusterMetrics() };
  }

  /** Forks the children; resolves when every one is listening, rejects when one exits first. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const listening = new Set<number>();
      for (let i = 0; i < this.options.processes; i++) {
        const worker = this.#fork();
        worker.once('listening', () => {
          listening.add(worker.id);
          if (listening.size === this.options.processes && !this.#ready) {
            this.#ready = true;
            resolve();
          }
        });
        worker.once('exit', (code, signal) => {
          if (!this.#ready) reject(new ChildExitedAtStartup(code, signal));
        });
      }
    });
  }

  /** SIGTERM to every child (each closes its server, finishing what it serves), then waits for them all. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    await Promise.all([...this.#children.values()].map(({ worker }) => stopChild(worker)));
  }

  #fork(): Worker {
    const worker = cluster.fork(this.options.env);
    const child: Child = {
      worker,
      peer: new IpcPeer(workerWire(worker), { handlers: this.#handlers, timeoutMs: CHILD_METRICS_TIMEOUT_MS }),
      bornMs: Date.now(),
      listening: false,
    };
    this.#children.set(worker.id, child);
    // a child answers metrics calls once it serves: one still starting is not asked (nor waited for)
    worker.once('listening', () => (child.listening = true));
    worker.once('exit', (code, signal) => this.#exited(child, code, signal));
    return worker;
  }

  #exited(child: Child, code: number | null, signal: string | null): void {
    child.peer.close(`process ${child.worker.process.pid} exited`);
    this.#children.delete(child.worker.id);
    if (this.#stopping || !this.#ready) return;
    this.#crashesInARow = Date.now() - child.bornMs < STABLE_MS ? this.#crashesInARow + 1 : 1;
    const delayMs = restartDelayMs(this.#crashesInARow);
    this.options.log.warn(
      { pid: child.worker.process.pid, code, signal, restartInMs: delayMs },
      'gateway process exited; replacing it',
    );
    // one replacement at a time: a crash loop waits out its backoff instead of spinning
    this.#restartTimer ??= setTimeout(() => this.#replace(), delayMs);
  }

  #replace(): void {
    this.#restartTimer = undefined;
    if (this.#stopping) return;
    const worker = this.#fork();
    worker.once('listening', () =>
      this.options.log.info({ pid: worker.process.pid }, 'replacement gateway process listening'),
    );
    // several children may have died at once: the next one after the same delay
    if (this.#children.size < this.options.processes) {
      this.#restartTimer = setTimeout(() => this.#replace(), restartDelayMs(this.#crashesInARow));
    }
  }

  /**
   * The own series of every live process, summed. prom-client's `clusterMetrics()` asks the
   * children only; the primary's payment worker records outcomes here, so its series are added.
   */
  async #clusterMetrics(): Promise<string> {
    const children = [...this.#children.values()].filter((c) => c.listening && c.worker.isConnected());
    const perProcess = await Promise.all([
      this.options.registry.getMetricsAsJSON(),
      ...children.map((c) =>
        // a child that exits meanwhile takes its counts with it; one that is only slow fails the scrape
        (c.peer.call('metrics.own') as Promise<ProcessSeries>).catch((err) =>
          c.peer.closed ? [] : Promise.reject(err),
        ),
      ),
    ]);
    return sumProcesses(perProcess);
  }
}

function stopChild(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    if (worker.isDead()) return resolve();
    const timer = setTimeout(() => worker.process.kill('SIGKILL'), STOP_GRACE_MS);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // a signal rather than cluster's disconnect: the child keeps its channel for in-flight ledger calls
    worker.process.kill('SIGTERM');
  });
}
