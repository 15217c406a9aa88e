// Lease-based leader election (coordination.k8s.io/v1), as client-go's tools/leaderelection: the
// candidates race to write their identity into one Lease; the holder renews it every retry period
// and steps down if it cannot renew within the renew deadline. Expiry is judged by when *we* last saw
// the lease change (local time), never by the renewTime written by another machine's clock.
import type { Lease, LeaseSpec } from 'kubernetes-types/coordination/v1.js';
import { isConflict, isNotFound } from './apiError.js';
import { realClock, sleep, type Clock } from './clock.js';
import { microTime } from './microTime.js';
import type { RestClient } from './restClient.js';
import type { ResourceClient } from './resourceClient.js';
import { logger } from '../util/log.js';

export interface LeaderCallbacks {
  /** We lead. `signal` aborts when leadership is lost or the election is cancelled: stop all work then. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** We no longer lead (only called if we led). */
  onStoppedLeading?(): void;
  /** The observed leader changed (including to ourselves). */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectionConfig {
  client: RestClient;
  /** The Lease `namespace/name`, e.g. kube-system/kube-scheduler. */
  namespace: string;
  name: string;
  /** Unique per candidate: upstream uses `<hostname>_<uuid>`. */
  identity: string;
  /** How long a lease stays valid after it was last seen renewed (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a renewal before it gives up leading (default 10 s). */
  renewDeadlineMs?: number;
  /** Time between attempts (default 2 s). */
  retryPeriodMs?: number;
  /** On cancellation, give the lease up at once (holder '' and 1 s duration) instead of letting it expire. */
  releaseOnCancel?: boolean;
  callbacks: LeaderCallbacks;
  clock?: Clock;
}

/** client-go's JitterFactor for the acquire loop. */
const JITTER_FACTOR = 1.2;

export class LeaderElector {
  private readonly leases: ResourceClient<Lease>;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private readonly log;
  /** The lease as last read or written by us: the base of optimistic (resourceVersion) updates. */
  private lease: Lease | undefined;
  private observedSpec: LeaseSpec | undefined;
  private observedRaw = '';
  private observedTime = 0;
  private reportedLeader = '';

  constructor(readonly config: LeaderElectionConfig) {
    this.leases = config.client.resource<Lease>('coordination.k8s.io', 'v1', 'leases');
    this.leaseDurationMs = config.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = config.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = config.retryPeriodMs ?? 2_000;
    this.clock = config.clock ?? realClock;
    if (this.leaseDurationMs <= this.renewDeadlineMs) throw new Error('leaseDuration must be greater than renewDeadline');
    if (this.renewDeadlineMs <= JITTER_FACTOR * this.retryPeriodMs) throw new Error('renewDeadline must be greater than retryPeriod*JitterFactor');
    if (this.leaseDurationMs < 1000) throw new Error('leaseDuration must be at least 1 s (it is written in whole seconds)');
    this.log = logger('leader-election').child({ lease: `${config.namespace}/${config.name}`, identity: config.identity });
  }

  /** True while the last lease we observed names us as holder. */
  isLeader(): boolean {
    return this.observedSpec?.holderIdentity === this.config.identity;
  }

  /** The holder we last observed ('' if none). */
  getLeader(): string {
    return this.observedSpec?.holderIdentity ?? '';
  }

  /**
   * Campaigns until we lead, leads until the lease cannot be renewed or `signal` aborts, then returns.
   * Run it again to rejoin the election.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.acquire(signal))) return;
    const leading = new AbortController();
    const cancel = () => leading.abort(signal.reason);
    signal.addEventListener('abort', cancel, { once: true });
    this.log.info('started leading');
    try {
      void Promise.resolve()
        .then(() => this.config.callbacks.onStartedLeading(leading.signal))
        .catch((err: unknown) => this.log.error({ err }, 'onStartedLeading failed'));
      await this.renew(leading.signal);
    } finally {
      signal.removeEventListener('abort', cancel);
      leading.abort(new Error('leader election lost'));
      if (this.config.releaseOnCancel) await this.release();
      this.log.info('stopped leading');
      try {
        this.config.callbacks.onStoppedLeading?.();
      } catch (err) {
        this.log.error({ err }, 'onStoppedLeading failed');
      }
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const ok = await this.tryAcquireOrRenew(signal, this.renewDeadlineMs);
      this.maybeReportTransition();
      if (ok) return true;
      try {
        await sleep(this.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), signal, this.clock);
      } catch {
        return false;
      }
    }
    return false;
  }

  private async renew(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const deadline = this.clock.now() + this.renewDeadlineMs;
      let ok = false;
      for (;;) {
        ok = await this.tryAcquireOrRenew(signal, deadline - this.clock.now());
        if (ok || signal.aborted || this.clock.now() + this.retryPeriodMs > deadline) break;
        try {
          await sleep(this.retryPeriodMs, signal, this.clock);
        } catch {
          return;
        }
      }
      this.maybeReportTransition();
      if (!ok) {
        if (!signal.aborted) this.log.warn('failed to renew lease within the renew deadline');
        return;
      }
      try {
        await sleep(this.retryPeriodMs, signal, this.clock);
      } catch {
        return;
      }
    }
  }

  private leaseValid(now: number): boolean {
    const seconds = this.observedSpec?.leaseDurationSeconds ?? 0;
    return this.observedTime + seconds * 1000 > now;
  }

  private setObserved(lease: Lease): void {
    this.lease = lease;
    this.observedSpec = lease.spec ?? {};
    this.observedRaw = JSON.stringify(this.observedSpec);
    this.observedTime = this.clock.now();
  }

  /** One attempt: create, renew or take over the lease. Never throws. */
  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    const call = { signal, timeoutMs: Math.max(1, timeoutMs) };
    const now = this.clock.now();
    const record: LeaseSpec = {
      holderIdentity: this.config.identity,
      leaseDurationSeconds: Math.floor(this.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
    };
    try {
      // Fast path: we lead and our copy is current, so a plain update with its resourceVersion suffices.
      if (this.isLeader() && this.leaseValid(now) && this.lease) {
        record.acquireTime = this.observedSpec?.acquireTime ?? record.acquireTime;
        record.leaseTransitions = this.observedSpec?.leaseTransitions ?? 0;
        try {
          this.setObserved(await this.leases.update({ ...this.lease, spec: { ...this.lease.spec, ...record } }, call));
          return true;
        } catch (err) {
          if (signal.aborted) return false;
          this.log.debug({ err: String(err) }, 'optimistic renew failed; falling back to get');
        }
      }
      let current: Lease;
      try {
        current = await this.leases.get(this.config.namespace, this.config.name, call);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        record.leaseTransitions = 0;
        const created = await this.leases.create(
          { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.config.name, namespace: this.config.namespace }, spec: record },
          call,
        );
        this.setObserved(created);
        return true;
      }
      const raw = JSON.stringify(current.spec ?? {});
      if (raw !== this.observedRaw) this.setObserved(current);
      else this.lease = current;
      const holder = current.spec?.holderIdentity ?? '';
      if (holder && holder !== this.config.identity && this.leaseValid(this.clock.now())) return false;
      if (this.isLeader()) {
        record.acquireTime = current.spec?.acquireTime ?? record.acquireTime;
        record.leaseTransitions = current.spec?.leaseTransitions ?? 0;
      } else {
        record.leaseTransitions = (current.spec?.leaseTransitions ?? 0) + 1;
      }
      // current.metadata.resourceVersion makes this a compare-and-swap: a racing candidate gets 409.
      this.setObserved(await this.leases.update({ ...current, spec: { ...current.spec, ...record } }, call));
      return true;
    } catch (err) {
      if (!signal.aborted) this.log[isConflict(err) ? 'debug' : 'warn']({ err: String(err) }, 'lease update failed');
      return false;
    }
  }

  /** Gives the lease up so another candidate can take it at once. */
  private async release(): Promise<void> {
    if (!this.isLeader() || !this.lease) return;
    const signal = AbortSignal.timeout(this.renewDeadlineMs);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const current = await this.leases.get(this.config.namespace, this.config.name, { signal });
        if (current.spec?.holderIdentity !== this.config.identity) return;
        const now = microTime(this.clock.now());
        const spec: LeaseSpec = { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.spec?.leaseTransitions ?? 0 };
        this.setObserved(await this.leases.update({ ...current, spec }, { signal }));
        return;
      } catch (err) {
        if (isConflict(err)) continue;
        this.log.warn({ err: String(err) }, 'failed to release lease');
        return;
      }
    }
  }

  private maybeReportTransition(): void {
    const holder = this.getLeader();
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    const cb = this.config.callbacks.onNewLeader;
    if (!cb) return;
    queueMicrotask(() => {
      try {
        cb(holder);
      } catch (err) {
        this.log.error({ err }, 'onNewLeader failed');
      }
    });
  }
}
