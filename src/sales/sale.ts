/** A sale as stored in its Redis hash, with live counters. */
export interface Sale {
  readonly saleId: string;
  readonly name: string;
  readonly price: number;
  readonly currency: string;
  readonly stock: number;
  readonly held: number;
  readonly sold: number;
  readonly perUserLimit: number;
  readonly holdSeconds: number;
  readonly opensAtMs: number;
  readonly closesAtMs: number | null;
  readonly orders: number;
}

export type SaleStatus = 'scheduled' | 'open' | 'sold_out' | 'closed';

/** A sale read in one snapshot with Redis time and its queue depth. */
export interface SaleSnapshot {
  readonly sale: Sale;
  readonly nowMs: number;
  readonly queueDepth: number;
  readonly laneDepths: Record<string, number>;
  /** Per lane, the position served so far (its served sequence number). */
  readonly laneServed: Record<string, number>;
}

/** Parses the sale hash (all values are strings in Redis). */
export function parseSale(saleId: string, h: Record<string, string>): Sale {
  return {
    saleId,
    name: h.name ?? saleId,
    price: Number(h.price),
    currency: h.currency ?? '',
    stock: Number(h.stock),
    held: Number(h.held ?? 0),
    sold: Number(h.sold ?? 0),
    perUserLimit: Number(h.perUserLimit),
    holdSeconds: Number(h.holdSeconds),
    opensAtMs: Number(h.opensAt),
    closesAtMs: h.closesAt ? Number(h.closesAt) : null,
    orders: Number(h.orders ?? 0),
  };
}

/** Queue depth per lane from the lane counters hash: enqueued minus served. */
export function laneDepths(lanes: Record<string, string>): Record<string, number> {
  const depths: Record<string, number> = {};
  for (const [field, value] of Object.entries(lanes)) {
    const [lane, counter] = field.split(':') as [string, string];
    depths[lane] = (depths[lane] ?? 0) + (counter === 'enq' ? Number(value) : -Number(value));
  }
  return depths;
}

/** Per lane, how many payments have been taken from it so far: the position being served. */
export function laneServed(lanes: Record<string, string>): Record<string, number> {
  const served: Record<string, number> = {};
  for (const [field, value] of Object.entries(lanes)) {
    const [lane, counter] = field.split(':') as [string, string];
    served[lane] ??= 0;
    if (counter === 'srv') served[lane] = Number(value);
  }
  return served;
}

export const available = (sale: Sale): number => sale.stock - sale.held - sale.sold;

/** closed wins over scheduled, which wins over sold_out. */
export function saleStatus(sale: Sale, nowMs: number): SaleStatus {
  if (sale.closesAtMs !== null && nowMs >= sale.closesAtMs) return 'closed';
  if (nowMs < sale.opensAtMs) return 'scheduled';
  return available(sale) <= 0 ? 'sold_out' : 'open';
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What a sale page polls (GET /v1/sales/{saleId}). */
export function publicSaleView({ sale, nowMs }: SaleSnapshot) {
  return {
    saleId: sale.saleId,
    name: sale.name,
    price: sale.price,
    currency: sale.currency,
    status: saleStatus(sale, nowMs),
    available: available(sale),
    opensAt: iso(sale.opensAtMs),
    closesAt: iso(sale.closesAtMs),
  };
}

/** The ops view (PUT/GET /admin/sales/{saleId}). */
export function adminSaleView(snapshot: SaleSnapshot) {
  const { sale, nowMs } = snapshot;
  return {
    saleId: sale.saleId,
    name: sale.name,
    price: sale.price,
    currency: sale.currency,
    stock: sale.stock,
    available: available(sale),
    held: sale.held,
    sold: sale.sold,
    perUserLimit: sale.perUserLimit,
    holdSeconds: sale.holdSeconds,
    opensAt: iso(sale.opensAtMs),
    closesAt: iso(sale.closesAtMs),
    status: saleStatus(sale, nowMs),
    queue: { depth: snapshot.queueDepth },
  };
}
