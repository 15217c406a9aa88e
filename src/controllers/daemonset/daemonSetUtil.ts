// The DaemonSet controller's pure decisions (upstream's pkg/controller/daemon and daemon/util):
// which nodes should run a daemon pod, what to create and delete on each node, how a rolling update
// proceeds within maxSurge/maxUnavailable, and the status the pods add up to.

import type { DaemonSet, DaemonSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Affinity, Node, Pod, PodSpec, PodTemplateSpec, Toleration } from 'kubernetes-types/core/v1.js';
import { NODE_NAME_FIELD, podMatchesNodeSelectorAndAffinityTerms } from '../../api/nodeSelector.js';
import { findMatchingUntoleratedTaint } from '../../api/taints.js';
import { isPodAvailable, isPodReady } from '../controllerRef.js';
import { POD_REVISION_HASH_LABEL } from '../history/controllerHistory.js';
import { scaledValueFromIntOrPercent } from './intOrPercent.js';

/** The deprecated annotation a v1 DaemonSet keeps its templateGeneration in. */
export const DEPRECATED_TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';
/** The label pods carried with the template generation before hashes (extensions DaemonSetTemplateGenerationKey). */
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_NODE_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_NODE_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NODE_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';

/**
 * Adds or updates a toleration by key+operator+effect (upstream's AddOrUpdateTolerationInPodSpec):
 * an existing toleration with the same key, operator and effect is replaced.
 */
function addOrUpdateToleration(spec: PodSpec, t: Toleration): void {
  const list = spec.tolerations ?? [];
  const i = list.findIndex((x) => (x.key ?? '') === (t.key ?? '') && (x.operator ?? 'Equal') === (t.operator ?? 'Equal') && (x.effect ?? '') === (t.effect ?? ''));
  if (i >= 0) list[i] = t;
  else list.push(t);
  spec.tolerations = list;
}

/**
 * The tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations): not-ready and
 * unreachable NoExecute so node problems do not evict them; disk/memory/pid pressure and
 * unschedulable NoSchedule; network-unavailable NoSchedule for host-network pods. Edits `spec`.
 */
export function addDaemonPodTolerations(spec: PodSpec): void {
  addOrUpdateToleration(spec, { key: TAINT_NODE_NOT_READY, operator: 'Exists', effect: 'NoExecute' });
  addOrUpdateToleration(spec, { key: TAINT_NODE_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' });
  addOrUpdateToleration(spec, { key: TAINT_NODE_DISK_PRESSURE, operator: 'Exists', effect: 'NoSchedule' });
  addOrUpdateToleration(spec, { key: TAINT_NODE_MEMORY_PRESSURE, operator: 'Exists', effect: 'NoSchedule' });
  addOrUpdateToleration(spec, { key: TAINT_NODE_PID_PRESSURE, operator: 'Exists', effect: 'NoSchedule' });
  addOrUpdateToleration(spec, { key: TAINT_NODE_UNSCHEDULABLE, operator: 'Exists', effect: 'NoSchedule' });
  if (spec.hostNetwork) addOrUpdateToleration(spec, { key: TAINT_NODE_NETWORK_UNAVAILABLE, operator: 'Exists', effect: 'NoSchedule' });
}

/** The pod the DaemonSet would run on `nodeName`, for the eligibility checks (upstream's NewPod). */
export function newDaemonPod(ds: Readonly<DaemonSet>, nodeName: string): Pod {
  const t = ds.spec?.template;
  const spec = structuredClone(t?.spec ?? { containers: [] }) as PodSpec;
  spec.nodeName = nodeName;
  addDaemonPodTolerations(spec);
  return { metadata: { ...structuredClone(t?.metadata ?? {}), namespace: ds.metadata?.namespace }, spec };
}

export interface ShouldRun {
  /** A daemon pod should be started on the node if none runs there. */
  shouldRun: boolean;
  /** A daemon pod already on the node may stay (it tolerates the node's NoExecute taints). */
  shouldContinueRunning: boolean;
}

/** Upstream's NodeShouldRunDaemonPod: nodeName, node selector/required affinity, then taints. */
export function nodeShouldRunDaemonPod(node: Readonly<Node>, ds: Readonly<DaemonSet>): ShouldRun {
  const name = node.metadata?.name ?? '';
  const fixed = ds.spec?.template?.spec?.nodeName;
  if (fixed && fixed !== name) return { shouldRun: false, shouldContinueRunning: false };
  const pod = newDaemonPod(ds, name);
  if (!podMatchesNodeSelectorAndAffinityTerms(pod, node)) return { shouldRun: false, shouldContinueRunning: false };
  const taints = node.spec?.taints;
  const tolerations = pod.spec?.tolerations;
  const untolerated = findMatchingUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoExecute' || t.effect === 'NoSchedule');
  if (untolerated) {
    // A running daemon pod stays unless a NoExecute taint would evict it.
    const noExecute = findMatchingUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoExecute');
    return { shouldRun: false, shouldContinueRunning: !noExecute };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}

/** The template generation from the deprecated annotation; undefined when absent or unparsable. */
export function templateGeneration(ds: Readonly<DaemonSet>): number | undefined {
  const a = ds.metadata?.annotations?.[DEPRECATED_TEMPLATE_GENERATION_ANNOTATION];
  if (a === undefined || !/^-?\d+$/.test(a)) return undefined;
  return Number(a);
}

/** The template pods are created from: daemon tolerations, the generation and hash labels (upstream's CreatePodTemplate). */
export function createPodTemplate(template: Readonly<PodTemplateSpec>, generation: number | undefined, hash: string): PodTemplateSpec {
  const t = structuredClone(template) as PodTemplateSpec;
  t.spec ??= { containers: [] };
  addDaemonPodTolerations(t.spec);
  t.metadata = { ...(t.metadata ?? {}), labels: { ...(t.metadata?.labels ?? {}) } };
  if (generation !== undefined) t.metadata.labels![TEMPLATE_GENERATION_LABEL] = String(generation);
  if (hash) t.metadata.labels![POD_REVISION_HASH_LABEL] = hash;
  return t;
}

/**
 * The affinity that binds a daemon pod to `nodeName` through the default scheduler (upstream's
 * ReplaceDaemonSetPodNodeNameNodeAffinity): the required node affinity becomes one term
 * `matchFields: metadata.name In [node]`; other affinity is kept.
 */
export function replaceNodeNameAffinity(affinity: Readonly<Affinity> | undefined, nodeName: string): Affinity {
  const term = { matchFields: [{ key: NODE_NAME_FIELD, operator: 'In', values: [nodeName] }] };
  const a = structuredClone((affinity ?? {}) as Affinity);
  a.nodeAffinity = { ...(a.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } };
  return a;
}

/** The node a daemon pod is for: spec.nodeName, or the metadata.name matchFields of a pending pod. */
export function targetNodeName(pod: Readonly<Pod>): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  for (const term of pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    for (const f of term.matchFields ?? []) {
      if (f.key === NODE_NAME_FIELD && f.operator === 'In') return f.values?.length === 1 ? f.values[0] : undefined;
    }
  }
  return undefined;
}

/** The pod runs the current template: its hash (or legacy generation) label matches. */
export function isPodUpdated(pod: Readonly<Pod>, hash: string, generation: number | undefined): boolean {
  const labels = pod.metadata?.labels ?? {};
  const generationMatches = generation !== undefined && labels[TEMPLATE_GENERATION_LABEL] === String(generation);
  const hashMatches = hash.length > 0 && labels[POD_REVISION_HASH_LABEL] === hash;
  return hashMatches || generationMatches;
}

/** maxSurge of a RollingUpdate DaemonSet against `n` desired pods (0 without surge). */
export function surgeCount(ds: Readonly<DaemonSet>, n: number): number {
  const s = ds.spec?.updateStrategy;
  if (s?.type !== 'RollingUpdate' || s.rollingUpdate?.maxSurge === undefined) return 0;
  return scaledValueFromIntOrPercent(s.rollingUpdate.maxSurge, n, true);
}

/** maxUnavailable of a RollingUpdate DaemonSet against `n` desired pods. */
export function unavailableCount(ds: Readonly<DaemonSet>, n: number): number {
  const s = ds.spec?.updateStrategy;
  if (s?.type !== 'RollingUpdate' || !s.rollingUpdate) return 0;
  return scaledValueFromIntOrPercent(s.rollingUpdate.maxUnavailable, n, true);
}

export function allowsSurge(ds: Readonly<DaemonSet>): boolean {
  try {
    return surgeCount(ds, 1) > 0;
  } catch {
    return false;
  }
}

/** Scheduled pods first, then oldest, then by name (upstream's podByCreationTimestampAndPhase). */
export function byCreationTimestampAndPhase(a: Readonly<Pod>, b: Readonly<Pod>): number {
  const sa = !!a.spec?.nodeName;
  const sb = !!b.spec?.nodeName;
  if (sa !== sb) return sa ? -1 : 1;
  const ta = Date.parse(a.metadata?.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata?.creationTimestamp ?? '') || 0;
  if (ta !== tb) return ta - tb;
  const na = a.metadata?.name ?? '';
  const nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

export type NodeToDaemonPods = Map<string, Readonly<Pod>[]>;

/** Groups the DaemonSet's pods by target node; terminal pods already being deleted are dropped unless asked for. */
export function groupPodsByNode(pods: readonly Readonly<Pod>[], includeDeletedTerminal = false): NodeToDaemonPods {
  const out: NodeToDaemonPods = new Map();
  for (const p of pods) {
    const terminal = p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';
    if (!includeDeletedTerminal && terminal && p.metadata?.deletionTimestamp) continue;
    const node = targetNodeName(p);
    if (node === undefined) continue;
    const list = out.get(node) ?? [];
    list.push(p);
    out.set(node, list);
  }
  return out;
}

/** The failed-pod back-off the controller keeps per DaemonSet generation and node (flowcontrol.Backoff). */
export interface FailedPodBackoff {
  /** Still in back-off since the last recorded failure at `now`? */
  inBackoff(key: string, now: number): boolean;
  /** Records a failure and lengthens the back-off. */
  next(key: string, now: number): void;
  /** The current back-off of `key`, ms. */
  delay(key: string): number;
}

export interface NodeEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface NodePlan {
  create: boolean;
  delete: string[];
  events: NodeEvent[];
  /** Look again after this long (a failed pod in back-off), ms. */
  requeueAfterMs?: number;
}

export const FAILED_DAEMON_POD_REASON = 'FailedDaemonPod';
export const SUCCEEDED_DAEMON_POD_REASON = 'SucceededDaemonPod';
export const SELECTING_ALL_REASON = 'SelectingAll';

export function failedPodsBackoffKey(ds: Readonly<DaemonSet>, nodeName: string): string {
  return `${ds.metadata?.uid ?? ''}/${ds.status?.observedGeneration ?? 0}/${nodeName}`;
}

/**
 * What to create and delete on one node (upstream's podsShouldBeOnNode): create when the node
 * should run a pod and has none; delete failed pods (with back-off) and succeeded ones; keep one
 * pod per node (two while surging: the oldest old and the oldest new, until the new is available);
 * delete everything from nodes that should not keep it.
 */
export function podsShouldBeOnNode(opts: {
  node: Readonly<Node>;
  ds: Readonly<DaemonSet>;
  pods: readonly Readonly<Pod>[] | undefined;
  hash: string;
  now: number;
  backoff: FailedPodBackoff;
}): NodePlan {
  const { node, ds, hash, now, backoff } = opts;
  const nodeName = node.metadata?.name ?? '';
  const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
  const plan: NodePlan = { create: false, delete: [], events: [] };
  const daemonPods = opts.pods;
  if (shouldRun && !daemonPods) {
    plan.create = true;
    return plan;
  }
  if (shouldContinueRunning) {
    const running: Readonly<Pod>[] = [];
    for (const pod of daemonPods ?? []) {
      if (pod.metadata?.deletionTimestamp) continue;
      const podRef = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      if (pod.status?.phase === 'Failed') {
        const key = failedPodsBackoffKey(ds, nodeName);
        if (backoff.inBackoff(key, now)) {
          plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? Infinity, backoff.delay(key));
          continue;
        }
        backoff.next(key, now);
        plan.events.push({ type: 'Warning', reason: FAILED_DAEMON_POD_REASON, message: `Found failed daemon pod ${podRef} on node ${nodeName}, will try to kill it` });
        plan.delete.push(pod.metadata!.name!);
      } else if (pod.status?.phase === 'Succeeded') {
        plan.events.push({ type: 'Normal', reason: SUCCEEDED_DAEMON_POD_REASON, message: `Found succeeded daemon pod ${podRef} on node ${nodeName}, will try to delete it` });
        plan.delete.push(pod.metadata!.name!);
      } else {
        running.push(pod);
      }
    }
    running.sort(byCreationTimestampAndPhase);
    if (!allowsSurge(ds)) {
      // Without surge a node keeps only its oldest pod.
      for (const p of running.slice(1)) plan.delete.push(p.metadata!.name!);
      return plan;
    }
    if (running.length <= 1) {
      if (running.length === 0 && shouldRun) plan.create = true;
      return plan;
    }
    let oldestNew: Readonly<Pod> | undefined;
    let oldestOld: Readonly<Pod> | undefined;
    for (const p of running) {
      const isNew = p.metadata?.labels?.[POD_REVISION_HASH_LABEL] === hash;
      if (isNew && !oldestNew) oldestNew = p;
      else if (!isNew && !oldestOld) oldestOld = p;
      else plan.delete.push(p.metadata!.name!);
    }
    if (oldestNew && oldestOld) {
      if (!isPodReady(oldestOld) || isPodAvailable(oldestNew, ds.spec?.minReadySeconds ?? 0, now)) plan.delete.push(oldestOld.metadata!.name!);
    }
    return plan;
  }
  if (daemonPods) {
    for (const p of daemonPods) if (!p.metadata?.deletionTimestamp) plan.delete.push(p.metadata!.name!);
  }
  return plan;
}

/** Unscheduled pods aimed at nodes that no longer exist: nothing else would ever delete them. */
export function unscheduledPodsWithoutNode(nodeNames: ReadonlySet<string>, nodeToPods: NodeToDaemonPods): string[] {
  const out: string[] = [];
  for (const [node, pods] of nodeToPods) {
    if (nodeNames.has(node)) continue;
    for (const p of pods) if (!p.spec?.nodeName) out.push(p.metadata!.name!);
  }
  return out;
}

/** The non-deleted new and old pod on a node; ok=false when there are several of either. */
export function findUpdatedPodsOnNode(pods: readonly Readonly<Pod>[], hash: string, generation: number | undefined): { newPod?: Readonly<Pod>; oldPod?: Readonly<Pod>; ok: boolean } {
  let newPod: Readonly<Pod> | undefined;
  let oldPod: Readonly<Pod> | undefined;
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    if (isPodUpdated(p, hash, generation)) {
      if (newPod) return { ok: false };
      newPod = p;
    } else {
      if (oldPod) return { ok: false };
      oldPod = p;
    }
  }
  return { ...(newPod ? { newPod } : {}), ...(oldPod ? { oldPod } : {}), ok: true };
}

export interface RollingUpdatePlan {
  podsToDelete: string[];
  nodesToCreate: string[];
}

/**
 * One step of a RollingUpdate (upstream's rollingUpdate). Without surge: delete old pods that are
 * unavailable anyway, plus available old pods while fewer than maxUnavailable are unavailable; the
 * manage loop recreates them. With surge: start a new pod beside an old one (immediately when the
 * old is unavailable, else up to maxSurge at once) and delete the old one once the new is available.
 * `nodeToPods` has an entry (maybe empty) for every node that should run a pod.
 */
export function planRollingUpdate(opts: {
  ds: Readonly<DaemonSet>;
  nodes: ReadonlyMap<string, Readonly<Node>>;
  nodeToPods: NodeToDaemonPods;
  hash: string;
  now: number;
}): RollingUpdatePlan {
  const { ds, nodes, nodeToPods, hash, now } = opts;
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const generation = templateGeneration(ds);
  const available = (p: Readonly<Pod>) => isPodAvailable(p, minReady, now);
  let desired = 0;
  const withEmpty: NodeToDaemonPods = new Map(nodeToPods);
  for (const [name, node] of nodes) {
    if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
    desired++;
    if (!withEmpty.has(name)) withEmpty.set(name, []);
  }
  let maxUnavailable = unavailableCount(ds, desired);
  const maxSurge = surgeCount(ds, desired);
  // An impossible configuration (both 0) falls back to one unavailable, as upstream.
  if (desired > 0 && maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1;
  const sortedNodes = [...withEmpty.keys()].sort();

  if (maxSurge === 0) {
    let numUnavailable = 0;
    const replacements: string[] = [];
    const candidates: string[] = [];
    for (const nodeName of sortedNodes) {
      const { newPod, oldPod, ok } = findUpdatedPodsOnNode(withEmpty.get(nodeName)!, hash, generation);
      if (!ok) {
        numUnavailable++;
        continue;
      }
      if ((!oldPod && !newPod) || (oldPod && newPod)) {
        numUnavailable++;
      } else if (newPod) {
        if (!available(newPod)) numUnavailable++;
      } else if (oldPod) {
        if (!available(oldPod)) {
          replacements.push(oldPod.metadata!.name!);
          numUnavailable++;
        } else if (numUnavailable < maxUnavailable) {
          candidates.push(oldPod.metadata!.name!);
        }
      }
    }
    const remaining = Math.min(Math.max(0, maxUnavailable - numUnavailable), candidates.length);
    return { podsToDelete: [...replacements, ...candidates.slice(0, remaining)], nodesToCreate: [] };
  }

  const podsToDelete: string[] = [];
  const shouldNotRun: string[] = [];
  const candidateNodes: string[] = [];
  const allowedNodes: string[] = [];
  let numSurge = 0;
  let numAvailable = 0;
  for (const nodeName of sortedNodes) {
    const { newPod, oldPod, ok } = findUpdatedPodsOnNode(withEmpty.get(nodeName)!, hash, generation);
    if (!ok) {
      numSurge++;
      continue;
    }
    if (oldPod) {
      if (available(oldPod)) numAvailable++;
    } else if (newPod && available(newPod)) {
      numAvailable++;
    }
    if (!oldPod) continue;
    const node = nodes.get(nodeName);
    const shouldRun = node ? nodeShouldRunDaemonPod(node, ds).shouldRun : false;
    if (!newPod) {
      if (!available(oldPod)) {
        if (!shouldRun) podsToDelete.push(oldPod.metadata!.name!);
        else allowedNodes.push(nodeName);
      } else if (!shouldRun) {
        shouldNotRun.push(oldPod.metadata!.name!);
      } else if (numSurge < maxSurge) {
        candidateNodes.push(nodeName);
      }
      continue;
    }
    if (!available(newPod)) {
      numSurge++;
      continue;
    }
    podsToDelete.push(oldPod.metadata!.name!);
  }
  // With surge the owner expects full availability: pods on nodes that stopped matching go only
  // when enough pods are available elsewhere.
  const deletable = Math.min(numAvailable - desired, shouldNotRun.length);
  if (deletable > 0) podsToDelete.push(...shouldNotRun.slice(0, deletable));
  const remaining = Math.min(Math.max(0, maxSurge - numSurge), candidateNodes.length);
  return { podsToDelete, nodesToCreate: [...allowedNodes, ...candidateNodes.slice(0, remaining)] };
}

/** The status the DaemonSet's pods add up to (upstream's updateDaemonSetStatus counts). */
export function computeDaemonSetStatus(opts: {
  ds: Readonly<DaemonSet>;
  nodes: readonly Readonly<Node>[];
  nodeToPods: NodeToDaemonPods;
  hash: string;
  now: number;
}): Required<Pick<DaemonSetStatus, 'desiredNumberScheduled' | 'currentNumberScheduled' | 'numberMisscheduled' | 'numberReady' | 'updatedNumberScheduled' | 'numberAvailable' | 'numberUnavailable'>> {
  const { ds, nodes, nodeToPods, hash, now } = opts;
  const generation = templateGeneration(ds);
  const minReady = ds.spec?.minReadySeconds ?? 0;
  let desired = 0;
  let current = 0;
  let misscheduled = 0;
  let ready = 0;
  let updated = 0;
  let available = 0;
  for (const node of nodes) {
    const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
    const pods = nodeToPods.get(node.metadata?.name ?? '') ?? [];
    const scheduled = pods.length > 0;
    if (!shouldRun) {
      if (scheduled) misscheduled++;
      continue;
    }
    desired++;
    if (!scheduled) continue;
    current++;
    const pod = [...pods].sort(byCreationTimestampAndPhase)[0]!;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, minReady, now)) available++;
    }
    if (isPodUpdated(pod, hash, generation)) updated++;
  }
  return {
    desiredNumberScheduled: desired,
    currentNumberScheduled: current,
    numberMisscheduled: misscheduled,
    numberReady: ready,
    updatedNumberScheduled: updated,
    numberAvailable: available,
    numberUnavailable: desired - available,
  };
}

/** Exponential back-off per key (client-go's flowcontrol.Backoff), for failed daemon pods. */
export class Backoff implements FailedPodBackoff {
  private readonly entries = new Map<string, { delay: number; last: number }>();

  constructor(
    private readonly initialMs = 1000,
    private readonly maxMs = 15 * 60_000,
  ) {}

  inBackoff(key: string, now: number): boolean {
    const e = this.entries.get(key);
    return !!e && now - e.last < e.delay;
  }

  next(key: string, now: number): void {
    const e = this.entries.get(key);
    if (!e || now - e.last > 2 * this.maxMs) this.entries.set(key, { delay: this.initialMs, last: now });
    else this.entries.set(key, { delay: Math.min(e.delay * 2, this.maxMs), last: now });
  }

  delay(key: string): number {
    return this.entries.get(key)?.delay ?? 0;
  }

  /** Forgets entries idle for twice the maximum (upstream's GC). */
  gc(now: number): void {
    for (const [k, e] of this.entries) if (now - e.last > 2 * this.maxMs) this.entries.delete(k);
  }
}
