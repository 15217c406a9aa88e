// The `cache` plugin: positive and negative answers kept for min(record TTL, cap) seconds, served
// with TTLs counted down, in two capped caches (success, denial) as CoreDNS's. SERVFAIL is kept
// briefly (servfail TTL) so a failing upstream is not hammered.
import type { Answer } from 'dns-packet';
import type { CachePluginConfig } from './corefile.js';
import { matchZone } from './corefile.js';
import type { PluginResult } from './kubernetesPlugin.js';

interface Item {
  result: PluginResult;
  /** Seconds the item lives. */
  ttl: number;
  storedAt: number;
}

export type CacheType = 'success' | 'denial';

export interface CacheKeyParts {
  /** Lowercase, fully qualified. */
  name: string;
  type: string;
  qclass: string;
  dnssecOk: boolean;
  checkingDisabled: boolean;
}

export function cacheKey(k: CacheKeyParts): string {
  return `${k.dnssecOk ? 1 : 0}${k.checkingDisabled ? 1 : 0}|${k.type}|${k.qclass}|${k.name}`;
}

/** One capped map; when full, the entry stored longest ago is evicted (Map keeps insertion order). */
class Store {
  readonly items = new Map<string, Item>();
  constructor(readonly capacity: number) {}

  get(key: string): Item | undefined {
    return this.items.get(key);
  }

  /** Returns whether an entry had to be evicted. */
  set(key: string, item: Item): boolean {
    let evicted = false;
    this.items.delete(key);
    if (this.capacity > 0 && this.items.size >= this.capacity) {
      const oldest = this.items.keys().next();
      if (!oldest.done) {
        this.items.delete(oldest.value);
        evicted = true;
      }
    }
    if (this.capacity > 0) this.items.set(key, item);
    return evicted;
  }
}

export class ResponseCache {
  readonly success: Store;
  readonly denial: Store;

  constructor(
    readonly cfg: CachePluginConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.success = new Store(cfg.successCapacity);
    this.denial = new Store(cfg.denialCapacity);
  }

  /** Whether this cache handles `name` at all (its zones). */
  covers(name: string): boolean {
    return matchZone(this.cfg.zones, name) !== undefined;
  }

  /** A cached answer with TTLs lowered by the time it has been kept, or undefined. */
  get(key: string): { result: PluginResult; type: CacheType } | undefined {
    const now = this.now();
    for (const [store, type] of [
      [this.success, 'success'],
      [this.denial, 'denial'],
    ] as const) {
      const item = store.get(key);
      if (!item) continue;
      const left = item.ttl - Math.floor((now - item.storedAt) / 1000);
      if (left <= 0) {
        store.items.delete(key);
        continue;
      }
      const ttl = this.cfg.keepTtl ? undefined : left;
      const r = item.result;
      return {
        type,
        result: {
          ...r,
          authoritative: true,
          answers: withTtl(r.answers, ttl),
          authorities: withTtl(r.authorities, ttl),
          additionals: withTtl(r.additionals, ttl),
          plugin: 'cache',
        },
      };
    }
    return undefined;
  }

  /**
   * Stores `result` if it is cacheable; returns what happened, for the metrics, and the reply to
   * send now: with TTLs capped as later hits will show them (CoreDNS does the same, so a client
   * never sees 300 then 29).
   */
  put(key: string, name: string, result: PluginResult): { stored?: CacheType; evicted?: boolean; reply?: PluginResult } {
    if (result.truncated) return {};
    const kind = classify(result);
    if (kind === 'other') return {};
    const isSuccess = kind === 'success';
    if (isSuccess && matchZone(this.cfg.disableSuccess, name)) return {};
    if (!isSuccess && matchZone(this.cfg.disableDenial, name)) return {};
    let ttl: number;
    if (kind === 'servfail') {
      if (this.cfg.servfailTtl <= 0) return {};
      ttl = this.cfg.servfailTtl;
    } else if (isSuccess) {
      ttl = clamp(minTtl([...result.answers, ...result.authorities, ...result.additionals]), this.cfg.successMinTtl, this.cfg.successTtl);
    } else {
      const soa = result.authorities.find((a) => a.type === 'SOA');
      if (!soa || soa.type !== 'SOA') return {};
      ttl = clamp(Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0), this.cfg.denialMinTtl, this.cfg.denialTtl);
    }
    if (ttl <= 0) return {};
    const store = isSuccess ? this.success : this.denial;
    const evicted = store.set(key, { result, ttl, storedAt: this.now() });
    const shown = this.cfg.keepTtl ? undefined : ttl;
    const reply = { ...result, answers: withTtl(result.answers, shown), authorities: withTtl(result.authorities, shown), additionals: withTtl(result.additionals, shown) };
    return { stored: isSuccess ? 'success' : 'denial', evicted, reply };
  }
}

/** success: NOERROR with answers; denial: NXDOMAIN or NODATA (with SOA); servfail; other: not cached. */
function classify(r: PluginResult): 'success' | 'denial' | 'servfail' | 'other' {
  if (r.rcode === 'SERVFAIL') return 'servfail';
  if (r.rcode === 'NXDOMAIN') return r.authorities.some((a) => a.type === 'SOA') ? 'denial' : 'other';
  if (r.rcode !== 'NOERROR') return 'other';
  if (r.answers.length === 0) return r.authorities.some((a) => a.type === 'SOA') ? 'denial' : 'success';
  return 'success';
}

function minTtl(records: Answer[]): number {
  let min = Number.POSITIVE_INFINITY;
  for (const r of records) if (r.type !== 'OPT' && r.ttl !== undefined && r.ttl < min) min = r.ttl;
  return min === Number.POSITIVE_INFINITY ? 0 : min;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

function withTtl(records: Answer[], ttl: number | undefined): Answer[] {
  if (ttl === undefined) return records;
  return records.map((r) => (r.type === 'OPT' ? r : ({ ...r, ttl } as Answer)));
}
