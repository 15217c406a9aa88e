// One scheduling profile's plugins, instantiated once and run point by point. The runner stamps
// each returned Status with its plugin's name, applies score weights, and keeps the per-point
// ordering the configuration asked for (upstream's frameworkImpl).

import type { Pod } from 'kubernetes-types/core/v1.js';
import { CycleState } from './cycleState.js';
import type { NodeInfo } from './nodeInfo.js';
import {
  type AllExtensionPoints as AllPoints,
  Code,
  ConfigError,
  MAX_NODE_SCORE,
  errorStatus,
  isPlugin,
  isSuccess,
  type BindPlugin,
  type ClusterEventWithHint,
  type FilterPlugin,
  type FrameworkHandle,
  type MaybeStatus,
  type NodeScore,
  type NodeToStatus,
  type PermitPlugin,
  type Plugin,
  type PluginFactory,
  type PostBindPlugin,
  type PostFilterPlugin,
  type PostFilterResult,
  type PreBindPlugin,
  type PreEnqueuePlugin,
  type PreFilterPlugin,
  type PreFilterResult,
  type PreScorePlugin,
  type QueueSortPlugin,
  type ReservePlugin,
  type ScorePlugin,
  type Status,
} from './types.js';

export type ExtensionPoint = 'preEnqueue' | 'queueSort' | 'preFilter' | 'filter' | 'postFilter' | 'preScore' | 'score' | 'reserve' | 'permit' | 'preBind' | 'bind' | 'postBind';

export const EXTENSION_POINTS: readonly ExtensionPoint[] = ['preEnqueue', 'queueSort', 'preFilter', 'filter', 'postFilter', 'preScore', 'score', 'reserve', 'permit', 'preBind', 'bind', 'postBind'];

export interface PluginRef {
  name: string;
  weight?: number | undefined;
}

/** A profile as KubeSchedulerConfiguration states it (after defaulting): plugins per point and multiPoint. */
export interface ProfileConfig {
  schedulerName: string;
  percentageOfNodesToScore?: number | undefined;
  /** Plugins enabled at every extension point they implement, in order. */
  multiPoint: readonly PluginRef[];
  /** Per-point changes: `disabled` removes multiPoint plugins there (`*` all); `enabled` adds or re-weights. */
  points: Partial<Record<ExtensionPoint, { enabled?: readonly PluginRef[]; disabled?: readonly string[] }>>;
  pluginArgs: ReadonlyMap<string, Record<string, unknown>>;
}

function stamp(s: Status, plugin: string): Status {
  if (s.plugin === undefined) s.plugin = plugin;
  return s;
}

export class Framework {
  readonly schedulerName: string;
  readonly percentageOfNodesToScore: number | undefined;
  readonly preEnqueuePlugins: PreEnqueuePlugin[] = [];
  readonly queueSortPlugin: QueueSortPlugin;
  readonly preFilterPlugins: PreFilterPlugin[] = [];
  readonly filterPlugins: FilterPlugin[] = [];
  readonly postFilterPlugins: PostFilterPlugin[] = [];
  readonly preScorePlugins: PreScorePlugin[] = [];
  readonly scorePlugins: { plugin: ScorePlugin; weight: number }[] = [];
  readonly reservePlugins: ReservePlugin[] = [];
  readonly permitPlugins: PermitPlugin[] = [];
  readonly preBindPlugins: PreBindPlugin[] = [];
  readonly bindPlugins: BindPlugin[] = [];
  readonly postBindPlugins: PostBindPlugin[] = [];
  /** Plugin name → the cluster events it registered (for the queue). */
  readonly eventsByPlugin = new Map<string, readonly ClusterEventWithHint[]>();
  private readonly instances = new Map<string, Plugin>();

  constructor(
    profile: ProfileConfig,
    registry: ReadonlyMap<string, PluginFactory>,
    readonly handle: FrameworkHandle,
    path = 'profiles[0]',
  ) {
    this.schedulerName = profile.schedulerName;
    this.percentageOfNodesToScore = profile.percentageOfNodesToScore;
    const instance = (name: string, point: ExtensionPoint | 'multiPoint', i: number): Plugin => {
      let p = this.instances.get(name);
      if (p) return p;
      const factory = registry.get(name);
      if (!factory) throw new ConfigError(`${path}.plugins.${point}.enabled[${i}]`, `Invalid value: "${name}": plugin "${name}" does not exist`);
      const args = profile.pluginArgs.get(name) ?? factory.defaultArgs?.();
      p = factory.create(args, handle);
      this.instances.set(name, p);
      if (isPlugin(p, 'enqueue')) this.eventsByPlugin.set(name, p.eventsToRegister());
      return p;
    };
    // Instantiate multiPoint plugins first, in order, so every point sees them in the configured order.
    for (const [i, ref] of profile.multiPoint.entries()) instance(ref.name, 'multiPoint', i);
    const implementing = <K extends ExtensionPoint>(point: K) => {
      const cfg: { enabled?: readonly PluginRef[]; disabled?: readonly string[] } = profile.points[point] ?? {};
      const disabled = new Set(cfg.disabled ?? []);
      const list: { p: Plugin & AllPoints[K]; weight: number | undefined }[] = [];
      if (!disabled.has('*')) {
        for (const ref of profile.multiPoint) {
          if (disabled.has(ref.name)) continue;
          const p = this.instances.get(ref.name)!;
          if (isPlugin(p, point)) list.push({ p, weight: ref.weight });
        }
      }
      for (const [i, ref] of (cfg.enabled ?? []).entries()) {
        const p = instance(ref.name, point, i);
        if (!isPlugin(p, point)) throw new ConfigError(`${path}.plugins.${point}.enabled[${i}]`, `Invalid value: "${ref.name}": plugin "${ref.name}" does not extend ${point} plugin`);
        const at = list.findIndex((x) => x.p.name === ref.name);
        if (at >= 0) list[at] = { p, weight: ref.weight ?? list[at]!.weight };
        else list.push({ p, weight: ref.weight });
      }
      return list;
    };
    this.preEnqueuePlugins.push(...implementing('preEnqueue').map((x) => x.p));
    const sorts = implementing('queueSort');
    if (sorts.length !== 1) throw new ConfigError(`${path}.plugins.queueSort`, `Invalid value: one queue sort plugin required for profile with scheduler name "${profile.schedulerName}"`);
    this.queueSortPlugin = sorts[0]!.p;
    this.preFilterPlugins.push(...implementing('preFilter').map((x) => x.p));
    this.filterPlugins.push(...implementing('filter').map((x) => x.p));
    this.postFilterPlugins.push(...implementing('postFilter').map((x) => x.p));
    this.preScorePlugins.push(...implementing('preScore').map((x) => x.p));
    for (const [i, { p, weight }] of implementing('score').entries()) {
      const w = weight ?? 1;
      if (w <= 0) throw new ConfigError(`${path}.plugins.score.enabled[${i}].weight`, `Invalid value: ${w}: score plugin "${p.name}" weight must be positive`);
      this.scorePlugins.push({ plugin: p, weight: w });
    }
    this.reservePlugins.push(...implementing('reserve').map((x) => x.p));
    this.permitPlugins.push(...implementing('permit').map((x) => x.p));
    this.preBindPlugins.push(...implementing('preBind').map((x) => x.p));
    this.bindPlugins.push(...implementing('bind').map((x) => x.p));
    if (this.bindPlugins.length === 0) throw new ConfigError(`${path}.plugins.bind`, `Invalid value: at least one bind plugin is needed for profile with scheduler name "${profile.schedulerName}"`);
    this.postBindPlugins.push(...implementing('postBind').map((x) => x.p));
    for (const name of profile.pluginArgs.keys()) {
      if (!this.instances.has(name) && !registry.has(name)) throw new ConfigError(`${path}.pluginConfig`, `Invalid value: "${name}": plugin "${name}" does not exist`);
    }
  }

  plugin(name: string): Plugin | undefined {
    return this.instances.get(name);
  }

  runPreEnqueuePlugins(pod: Readonly<Pod>): MaybeStatus {
    for (const p of this.preEnqueuePlugins) {
      const s = p.preEnqueue(pod);
      if (!isSuccess(s)) return stamp(s!, p.name);
    }
    return undefined;
  }

  /**
   * PreFilter: returns the narrowed node set (if any plugin narrowed it) or a rejection. Plugins
   * that return Skip have their Filter skipped for this pod.
   */
  runPreFilterPlugins(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: Status; rejectors: Set<string> } {
    let narrowed: Set<string> | undefined;
    const narrowers: string[] = [];
    const rejectors = new Set<string>();
    for (const p of this.preFilterPlugins) {
      let out: { result?: PreFilterResult; status?: Status };
      try {
        out = p.preFilter(state, pod, nodes);
      } catch (err) {
        return { status: stamp(errorStatus(err), p.name), rejectors };
      }
      const s = out.status;
      if (s && s.code === Code.Skip) {
        state.skipFilterPlugins.add(p.name);
        continue;
      }
      if (!isSuccess(s)) {
        rejectors.add(p.name);
        return { status: stamp(s!, p.name), rejectors };
      }
      const names = out.result?.nodeNames;
      if (names) {
        narrowers.push(p.name);
        narrowed = narrowed ? new Set([...narrowed].filter((n) => names.has(n))) : new Set(names);
        if (narrowed.size === 0) {
          for (const n of narrowers) rejectors.add(n);
          const msg = `node(s) didn't satisfy plugin(s) [${narrowers.join(' ')}]`;
          return { status: { code: Code.UnschedulableAndUnresolvable, reasons: [msg], plugin: p.name }, rejectors };
        }
      }
    }
    return narrowed ? { result: { nodeNames: narrowed }, rejectors } : { rejectors };
  }

  /** Filter: the first plugin that rejects the pod on this node decides (upstream stops there too). */
  runFilterPlugins(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    for (const p of this.filterPlugins) {
      if (state.skipFilterPlugins.has(p.name)) continue;
      let s: MaybeStatus;
      try {
        s = p.filter(state, pod, nodeInfo);
      } catch (err) {
        s = errorStatus(err);
      }
      if (!isSuccess(s)) return stamp(s!, p.name);
    }
    return undefined;
  }

  /**
   * Filters with the pods nominated to this node (preemptors waiting for their victims to go) counted
   * as if already there, when they have at least the pod's priority; as upstream, a node must pass
   * both with and without them.
   */
  runFilterPluginsWithNominatedPods(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo, nominated: readonly Readonly<Pod>[]): MaybeStatus {
    const prio = pod.spec?.priority ?? 0;
    const uid = pod.metadata?.uid;
    const others = nominated.filter((n) => (n.spec?.priority ?? 0) >= prio && n.metadata?.uid !== uid);
    if (others.length > 0) {
      const st = state.clone();
      const ni = nodeInfo.clone();
      for (const n of others) {
        const pi = ni.addPod(n);
        for (const pf of this.preFilterPlugins) {
          const ext = pf.preFilterExtensions?.();
          if (!ext || st.skipFilterPlugins.has(pf.name)) continue;
          const s = ext.addPod(st, pod, pi, ni);
          if (!isSuccess(s)) return stamp(s!, pf.name);
        }
      }
      const s = this.runFilterPlugins(st, pod, ni);
      if (!isSuccess(s)) return s;
    }
    return this.runFilterPlugins(state, pod, nodeInfo);
  }

  async runPostFilterPlugins(state: CycleState, pod: Readonly<Pod>, statuses: NodeToStatus, signal?: AbortSignal): Promise<{ result?: PostFilterResult; status: Status }> {
    const reasons: string[] = [];
    let last: { result?: PostFilterResult; status: Status } = { status: { code: Code.Unschedulable, reasons: [] } };
    for (const p of this.postFilterPlugins) {
      let out: { result?: PostFilterResult; status: Status };
      try {
        out = await p.postFilter(state, pod, statuses, signal);
      } catch (err) {
        return { status: stamp(errorStatus(err), p.name) };
      }
      stamp(out.status, p.name);
      if (out.status.code === Code.Success) return out;
      if (out.status.code === Code.Error) return out;
      reasons.push(...out.status.reasons);
      last = out;
    }
    return { ...last, status: { ...last.status, reasons } };
  }

  runPreScorePlugins(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): MaybeStatus {
    for (const p of this.preScorePlugins) {
      const s = p.preScore(state, pod, nodes);
      if (s && s.code === Code.Skip) {
        state.skipScorePlugins.add(p.name);
        continue;
      }
      if (!isSuccess(s)) return stamp(s!, p.name);
    }
    return undefined;
  }

  /** Weighted, normalized score totals per node, in `nodes`' order. */
  runScorePlugins(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): { totals: NodeScore[]; status?: Status } {
    const totals: NodeScore[] = nodes.map((n) => ({ name: n.name, score: 0 }));
    for (const { plugin, weight } of this.scorePlugins) {
      if (state.skipScorePlugins.has(plugin.name)) continue;
      const scores: NodeScore[] = new Array(nodes.length);
      for (let i = 0; i < nodes.length; i++) {
        const r = plugin.score(state, pod, nodes[i]!);
        if (typeof r !== 'number') return { totals, status: stamp(r, plugin.name) };
        scores[i] = { name: nodes[i]!.name, score: r };
      }
      if (plugin.normalizeScore) {
        const s = plugin.normalizeScore(state, pod, scores);
        if (!isSuccess(s)) return { totals, status: stamp(s!, plugin.name) };
      }
      for (let i = 0; i < scores.length; i++) {
        const sc = scores[i]!.score;
        if (sc > MAX_NODE_SCORE || sc < 0) {
          return { totals, status: stamp(errorStatus(new Error(`plugin "${plugin.name}" returns an invalid score ${sc}, it should in the range of [0, ${MAX_NODE_SCORE}] after normalizing`)), plugin.name) };
        }
        totals[i]!.score += sc * weight;
      }
    }
    return { totals };
  }

  async runReservePluginsReserve(state: CycleState, pod: Readonly<Pod>, nodeName: string): Promise<MaybeStatus> {
    for (const p of this.reservePlugins) {
      let s: MaybeStatus;
      try {
        s = await p.reserve(state, pod, nodeName);
      } catch (err) {
        s = errorStatus(err);
      }
      if (!isSuccess(s)) return stamp(s!, p.name);
    }
    return undefined;
  }

  /** Unreserve runs in reverse order, for every reserve plugin, and never fails. */
  async runReservePluginsUnreserve(state: CycleState, pod: Readonly<Pod>, nodeName: string): Promise<void> {
    for (const p of [...this.reservePlugins].reverse()) {
      try {
        await p.unreserve(state, pod, nodeName);
      } catch {
        // Unreserve must be best effort; the plugin logs its own failures.
      }
    }
  }

  /** Permit: a rejection, or the longest Wait timeout among plugins that want to wait (0 = go). */
  runPermitPlugins(state: CycleState, pod: Readonly<Pod>, nodeName: string): { status?: Status; waitMs: number; waiting: string[] } {
    let waitMs = 0;
    const waiting: string[] = [];
    for (const p of this.permitPlugins) {
      const out = p.permit(state, pod, nodeName);
      const s = out.status;
      if (s && s.code === Code.Wait) {
        waitMs = Math.max(waitMs, Math.min(out.timeoutMs ?? 0, 15 * 60_000));
        waiting.push(p.name);
        continue;
      }
      if (!isSuccess(s)) return { status: stamp(s!, p.name), waitMs: 0, waiting };
    }
    return { waitMs, waiting };
  }

  async runPreBindPlugins(state: CycleState, pod: Readonly<Pod>, nodeName: string, signal?: AbortSignal): Promise<MaybeStatus> {
    for (const p of this.preBindPlugins) {
      let s: MaybeStatus;
      try {
        s = await p.preBind(state, pod, nodeName, signal);
      } catch (err) {
        s = errorStatus(err);
      }
      if (!isSuccess(s)) return stamp(s!, p.name);
    }
    return undefined;
  }

  /** Bind: the first plugin that does not Skip binds the pod. */
  async runBindPlugins(state: CycleState, pod: Readonly<Pod>, nodeName: string, signal?: AbortSignal): Promise<MaybeStatus> {
    for (const p of this.bindPlugins) {
      let s: MaybeStatus;
      try {
        s = await p.bind(state, pod, nodeName, signal);
      } catch (err) {
        s = errorStatus(err);
      }
      if (s && s.code === Code.Skip) continue;
      return s ? stamp(s, p.name) : undefined;
    }
    return { code: Code.Skip, reasons: ['no bind plugin bound the pod'] };
  }

  runPostBindPlugins(state: CycleState, pod: Readonly<Pod>, nodeName: string): void {
    for (const p of this.postBindPlugins) p.postBind(state, pod, nodeName);
  }

  newCycleState(): CycleState {
    return new CycleState();
  }
}
