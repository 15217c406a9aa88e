// The eviction manager's loop (pkg/kubelet/eviction/eviction_manager.go): every 10 s it observes
// the signals, keeps the node pressure conditions (held for the pressure transition period after
// the last crossing), and evicts at most one pod per round while a hard threshold is crossed.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { logger } from '../../util/log.js';
import { evictionMessage, isCriticalPod, nodeConditionFor, rankForEviction, thresholdsMet, type Observations, type PodUsage, type Signal, type Threshold } from './eviction.js';

const log = logger('eviction-manager');

export interface EvictionManagerOptions {
  thresholds: readonly Threshold[];
  observe(): Promise<Observations>;
  /** Per-pod usage of the signal's resource, for the active pods. */
  podUsages(signal: Signal, pods: readonly Pod[]): Promise<PodUsage[]>;
  activePods(): Pod[];
  /** Fails the pod (reason Evicted, the message) and kills it with no grace. */
  evict(pod: Readonly<Pod>, message: string): Promise<void>;
  /** --eviction-pressure-transition-period, default 5 min. */
  pressureTransitionMs?: number;
  now?: () => number;
}

export class EvictionManager {
  private readonly lastMet = new Map<'MemoryPressure' | 'DiskPressure' | 'PIDPressure', number>();
  private readonly now: () => number;

  constructor(private readonly o: EvictionManagerOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The node's pressure conditions, as the node status reports them. */
  pressure(): { memory: boolean; disk: boolean; pid: boolean } {
    const period = this.o.pressureTransitionMs ?? 5 * 60_000;
    const on = (c: 'MemoryPressure' | 'DiskPressure' | 'PIDPressure') => {
      const t = this.lastMet.get(c);
      return t !== undefined && this.now() - t < period;
    };
    return { memory: on('MemoryPressure'), disk: on('DiskPressure'), pid: on('PIDPressure') };
  }

  /** One round (synchronize): returns the evicted pod, if any. */
  async synchronize(): Promise<Readonly<Pod> | undefined> {
    const obs = await this.o.observe();
    const met = thresholdsMet(this.o.thresholds, obs);
    for (const t of met) this.lastMet.set(nodeConditionFor(t.signal), this.now());
    if (met.length === 0) return undefined;
    const t: Threshold = met[0]!;
    const candidates = this.o.activePods().filter((p) => !isCriticalPod(p));
    if (candidates.length === 0) {
      log.warn({ signal: t.signal }, 'eviction threshold crossed but no pod can be evicted');
      return undefined;
    }
    const ranked = rankForEviction(await this.o.podUsages(t.signal, candidates), t.signal);
    const victim = ranked[0];
    if (!victim) return undefined;
    const message = evictionMessage(t, obs[t.signal]!, victim);
    log.info({ pod: `${victim.pod.metadata?.namespace}/${victim.pod.metadata?.name}`, signal: t.signal }, 'evicting pod');
    await this.o.evict(victim.pod, message);
    return victim.pod;
  }
}
