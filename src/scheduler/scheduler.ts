// The scheduler's loop (upstream's scheduleOne): pop a pod, run one synchronous scheduling cycle
// against the cache, assume the pod onto the chosen node, and bind it asynchronously while the
// next pod is scheduled. Failures become a FailedScheduling event, the PodScheduled=False
// condition, and a place in the queue that the right cluster events will move.

import type { Node, Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import type { Logger } from '../util/log.js';
import type { SchedulerAPI } from './api.js';
import { SchedulerCache } from './cache.js';
import { FitError } from './fitError.js';
import type { CycleState } from './framework/cycleState.js';
import type { Framework } from './framework/runtime.js';
import { ActionType, Code, isSuccess, type ClusterEvent, type ClusterEventWithHint, type EventResource, type QueuedPodInfo, type Status } from './framework/types.js';
import { SchedulerMetrics } from './metrics.js';
import { Nominator } from './nominator.js';
import { SchedulingQueue } from './queue.js';
import { ERR_NO_NODES_AVAILABLE, PodScheduler } from './schedulePod.js';

export interface SchedulerOptions {
  profiles: readonly Framework[];
  api: SchedulerAPI;
  log: Logger;
  cache: SchedulerCache;
  nominator: Nominator;
  metrics?: SchedulerMetrics;
  percentageOfNodesToScore?: number | undefined;
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  /** Whether a pod still exists as the scheduler last saw it (informer cache lookup). */
  currentPod(namespace: string, name: string): Readonly<Pod> | undefined;
}

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

/** Binding cycles in flight at once; the scheduling loop waits for one to end beyond this. */
export const MAX_INFLIGHT_BINDINGS = 128;

export class Scheduler {
  readonly queue: SchedulingQueue;
  readonly cache: SchedulerCache;
  readonly nominator: Nominator;
  readonly metrics: SchedulerMetrics;
  private readonly profiles = new Map<string, Framework>();
  private readonly podScheduler: PodScheduler;
  private readonly inflightBindings = new Set<Promise<void>>();

  constructor(private readonly opts: SchedulerOptions) {
    for (const f of opts.profiles) this.profiles.set(f.schedulerName, f);
    this.cache = opts.cache;
    this.nominator = opts.nominator;
    this.metrics = opts.metrics ?? new SchedulerMetrics();
    const first = opts.profiles[0]!;
    this.queue = new SchedulingQueue({
      less: (a, b) => first.queueSortPlugin.less(a, b),
      preEnqueue: (pod) => this.profileFor(pod)?.runPreEnqueuePlugins(pod),
      eventsByPlugin: (pod) => this.profileFor(pod)?.eventsByPlugin ?? new Map<string, readonly ClusterEventWithHint[]>(),
      initialBackoffMs: opts.podInitialBackoffMs ?? 1000,
      maxBackoffMs: opts.podMaxBackoffMs ?? 10_000,
    });
    this.podScheduler = new PodScheduler(this.cache, this.nominator, opts.percentageOfNodesToScore);
  }

  /** Whether this scheduler is responsible for the pod (its schedulerName names one of our profiles). */
  responsibleFor(pod: Readonly<Pod>): boolean {
    return this.profiles.has(pod.spec?.schedulerName ?? DEFAULT_SCHEDULER_NAME);
  }

  private profileFor(pod: Readonly<Pod>): Framework | undefined {
    return this.profiles.get(pod.spec?.schedulerName ?? DEFAULT_SCHEDULER_NAME);
  }

  /** Schedules pods until `signal` aborts; in-flight bindings finish before it resolves. */
  async run(signal: AbortSignal): Promise<void> {
    this.queue.run();
    const gauge = setInterval(() => this.metrics.setPending(this.queue.pendingCounts()), 1000);
    gauge.unref();
    try {
      for (;;) {
        const info = await this.queue.pop(signal);
        if (!info) break;
        await this.scheduleOne(info, signal);
      }
    } finally {
      clearInterval(gauge);
      this.queue.close();
      await Promise.allSettled([...this.inflightBindings]);
    }
  }

  async scheduleOne(info: QueuedPodInfo, signal?: AbortSignal): Promise<void> {
    const pod = info.pod;
    const fwk = this.profileFor(pod);
    if (!fwk || pod.metadata?.deletionTimestamp || this.cache.isAssumed(pod)) {
      this.queue.done(pod);
      return;
    }
    const started = performance.now();
    const state = fwk.newCycleState();
    let host: string;
    try {
      host = this.podScheduler.schedulePod(fwk, state, pod).suggestedHost;
    } catch (err) {
      await this.handleScheduleError(fwk, state, info, err, started, signal);
      return;
    }
    // Assume: the next cycle sees the pod on its node before the binding lands.
    const assumed: Pod = { ...pod, spec: { ...pod.spec!, nodeName: host } };
    try {
      this.cache.assumePod(assumed, host);
    } catch (err) {
      this.fail(fwk, info, { code: Code.Error, reasons: [String(err)] }, String(err), started, undefined);
      return;
    }
    const reserve = await fwk.runReservePluginsReserve(state, assumed, host);
    if (!isSuccess(reserve)) {
      await fwk.runReservePluginsUnreserve(state, assumed, host);
      this.cache.forgetPod(assumed);
      this.fail(fwk, info, reserve!, `running Reserve plugin "${reserve!.plugin}": ${reserve!.reasons.join(', ')}`, started, undefined);
      return;
    }
    const permit = fwk.runPermitPlugins(state, assumed, host);
    if (permit.status && !isSuccess(permit.status)) {
      await fwk.runReservePluginsUnreserve(state, assumed, host);
      this.cache.forgetPod(assumed);
      this.moveOnEvent({ resource: 'AssignedPod', actionType: ActionType.Delete }, assumed, undefined);
      this.fail(fwk, info, permit.status, permit.status.reasons.join(', '), started, undefined);
      return;
    }
    if (pod.status?.nominatedNodeName) this.nominator.delete(pod);
    const p = this.bindingCycle(fwk, state, info, assumed, host, permit.waitMs, started, signal).finally(() => this.inflightBindings.delete(p));
    this.inflightBindings.add(p);
    // Bindings run beside the next cycles, but not without bound: thousands of requests queued in
    // the client cost memory and only add latency (the API server is the limit then).
    while (this.inflightBindings.size >= MAX_INFLIGHT_BINDINGS) await Promise.race(this.inflightBindings);
  }

  private async bindingCycle(fwk: Framework, state: CycleState, info: QueuedPodInfo, assumed: Pod, host: string, waitMs: number, started: number, signal?: AbortSignal): Promise<void> {
    const failBinding = async (s: Status, msg: string) => {
      await fwk.runReservePluginsUnreserve(state, assumed, host);
      this.cache.forgetPod(assumed);
      // The room it held is free again.
      this.moveOnEvent({ resource: 'AssignedPod', actionType: ActionType.Delete }, assumed, undefined);
      this.fail(fwk, info, s, msg, started, undefined);
    };
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs).unref());
    const pre = await fwk.runPreBindPlugins(state, assumed, host, signal);
    if (!isSuccess(pre)) return failBinding(pre!, `running PreBind plugin "${pre!.plugin}": ${pre!.reasons.join(', ')}`);
    const bound = await fwk.runBindPlugins(state, assumed, host, signal);
    if (!isSuccess(bound)) return failBinding(bound!, `binding rejected: ${bound!.reasons.join(', ')}`);
    this.cache.finishBinding(assumed);
    this.queue.done(info.pod);
    this.metrics.attempt('scheduled', fwk.schedulerName, (performance.now() - started) / 1000);
    const ns = assumed.metadata?.namespace ?? '';
    this.opts.api.event(assumed, undefined, 'Normal', 'Scheduled', 'Binding', `Successfully assigned ${ns}/${assumed.metadata?.name} to ${host}`);
    fwk.runPostBindPlugins(state, assumed, host);
  }

  private async handleScheduleError(fwk: Framework, state: CycleState, info: QueuedPodInfo, err: unknown, started: number, signal?: AbortSignal): Promise<void> {
    if (!(err instanceof FitError)) {
      if (err instanceof Error && err.message === ERR_NO_NODES_AVAILABLE) this.opts.log.debug({ pod: keyOf(info.pod) }, err.message);
      else this.opts.log.error({ err, pod: keyOf(info.pod) }, 'error scheduling pod; retrying');
      this.fail(fwk, info, { code: Code.Error, reasons: [String(err)] }, err instanceof Error ? err.message : String(err), started, undefined);
      return;
    }
    let nominated: string | null | undefined;
    if (fwk.postFilterPlugins.length > 0 && err.numAllNodes > 0) {
      const pf = await fwk.runPostFilterPlugins(state, info.pod, err.diagnosis.nodeToStatus, signal);
      if (pf.status.code === Code.Success) nominated = pf.result?.nominatedNodeName;
      else if (pf.result?.nominatedNodeName === '') nominated = null;
      const msg = pf.status.reasons.join(', ');
      if (msg && pf.status.code !== Code.Success) err.diagnosis.postFilterMsg = msg;
    }
    this.fail(fwk, info, { code: Code.Unschedulable, reasons: [err.message] }, err.message, started, nominated, err.diagnosis.unschedulablePlugins, err.diagnosis.pendingPlugins);
  }

  /** Records a failed attempt: metrics, event, pod condition, and the pod's way back into the queue. */
  private fail(fwk: Framework, info: QueuedPodInfo, status: Status, message: string, started: number, nominated: string | null | undefined, rejectors: Iterable<string> = [], pending: Iterable<string> = []): void {
    const unschedulable = status.code === Code.Unschedulable || status.code === Code.UnschedulableAndUnresolvable;
    this.metrics.attempt(unschedulable ? 'unschedulable' : 'error', fwk.schedulerName, (performance.now() - started) / 1000);
    const pod = info.pod;
    const current = this.opts.currentPod(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '');
    if (!current || current.metadata?.uid !== pod.metadata?.uid || current.spec?.nodeName) {
      // Deleted or bound meanwhile: nothing to retry or report.
      this.queue.done(pod);
      return;
    }
    this.queue.addUnschedulable(info, status, rejectors, pending);
    if (nominated) this.nominator.set(current, nominated);
    else if (nominated === null) this.nominator.delete(current);
    this.opts.log.debug({ pod: keyOf(pod), message }, 'unable to schedule pod');
    this.opts.api.event(current, undefined, 'Warning', 'FailedScheduling', 'Scheduling', message);
    const condition: PodCondition = {
      type: 'PodScheduled',
      status: 'False',
      reason: unschedulable ? 'Unschedulable' : 'SchedulerError',
      message,
    };
    const existing = current.status?.conditions?.find((c) => c.type === 'PodScheduled');
    const conditionChanged = !existing || existing.status !== condition.status || existing.reason !== condition.reason || existing.message !== condition.message;
    const nominatedChanged = nominated !== undefined && (nominated ?? undefined) !== current.status?.nominatedNodeName;
    if (!conditionChanged && !nominatedChanged) return;
    this.opts.api.patchPodStatus(current, conditionChanged ? condition : undefined, nominatedChanged ? nominated : undefined).catch((e: unknown) => {
      this.opts.log.warn({ err: e, pod: keyOf(pod) }, 'updating the pod condition failed');
    });
  }

  // --- cluster events (from informers) ---

  moveOnEvent(event: ClusterEvent, oldObj: unknown, newObj: unknown): void {
    this.queue.moveOnEvent(event, oldObj, newObj);
  }

  onPodAdd(pod: Readonly<Pod>): void {
    if (pod.spec?.nodeName) {
      this.cache.addOrUpdatePod(pod);
      this.nominator.delete(pod);
      this.queue.delete(pod);
      this.moveOnEvent({ resource: 'AssignedPod', actionType: ActionType.Add }, undefined, pod);
      return;
    }
    if (!this.responsibleFor(pod) || pod.metadata?.deletionTimestamp) return;
    this.nominator.set(pod);
    this.queue.add(pod);
  }

  onPodUpdate(old: Readonly<Pod>, pod: Readonly<Pod>): void {
    if (pod.spec?.nodeName) {
      const wasAssigned = !!old.spec?.nodeName;
      this.cache.addOrUpdatePod(pod);
      if (!wasAssigned) {
        this.nominator.delete(pod);
        this.queue.delete(pod);
        this.moveOnEvent({ resource: 'AssignedPod', actionType: ActionType.Add }, undefined, pod);
        return;
      }
      const bits = podUpdateBits(old, pod);
      if (bits) this.moveOnEvent({ resource: 'AssignedPod', actionType: bits }, old, pod);
      return;
    }
    if (!this.responsibleFor(pod)) return;
    if (pod.metadata?.deletionTimestamp) {
      this.queue.delete(pod);
      this.nominator.delete(pod);
      return;
    }
    this.nominator.set(pod);
    this.queue.update(pod);
  }

  onPodDelete(pod: Readonly<Pod>): void {
    if (pod.spec?.nodeName) {
      this.cache.removePod(pod);
      this.moveOnEvent({ resource: 'AssignedPod', actionType: ActionType.Delete }, pod, undefined);
      return;
    }
    this.queue.delete(pod);
    this.nominator.delete(pod);
    this.cache.forgetPod(pod);
    this.moveOnEvent({ resource: 'UnscheduledPod', actionType: ActionType.Delete }, pod, undefined);
  }

  onNodeAdd(node: Readonly<Node>): void {
    this.cache.addOrUpdateNode(node);
    this.moveOnEvent({ resource: 'Node', actionType: ActionType.Add }, undefined, node);
  }

  onNodeUpdate(old: Readonly<Node>, node: Readonly<Node>): void {
    this.cache.addOrUpdateNode(node);
    const bits = nodeUpdateBits(old, node);
    if (bits) this.moveOnEvent({ resource: 'Node', actionType: bits }, old, node);
  }

  onNodeDelete(node: Readonly<Node>): void {
    this.cache.removeNode(node);
    this.moveOnEvent({ resource: 'Node', actionType: ActionType.Delete }, node, undefined);
  }

  /** Another kind changed (PVC, PV, StorageClass, CSINode, Namespace, Service). */
  onOtherEvent(resource: EventResource, action: 'add' | 'update' | 'delete', oldObj: unknown, newObj: unknown): void {
    const bits = action === 'add' ? ActionType.Add : action === 'delete' ? ActionType.Delete : ActionType.UpdateOther;
    this.moveOnEvent({ resource, actionType: bits }, oldObj, newObj);
  }
}

function keyOf(pod: Readonly<Pod>): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Which scheduling-relevant parts of a node changed, as ActionType bits. */
export function nodeUpdateBits(old: Readonly<Node>, node: Readonly<Node>): number {
  let bits = 0;
  if (!same(old.status?.allocatable, node.status?.allocatable)) bits |= ActionType.UpdateNodeAllocatable;
  if (!same(old.metadata?.labels, node.metadata?.labels)) bits |= ActionType.UpdateNodeLabel;
  if (!same(old.spec?.taints, node.spec?.taints) || (old.spec?.unschedulable ?? false) !== (node.spec?.unschedulable ?? false)) bits |= ActionType.UpdateNodeTaint;
  const conds = (n: Readonly<Node>) => (n.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).sort().join(',');
  if (conds(old) !== conds(node)) bits |= ActionType.UpdateNodeCondition;
  if (!same(old.metadata?.annotations, node.metadata?.annotations)) bits |= ActionType.UpdateNodeAnnotation;
  return bits;
}

/** Which scheduling-relevant parts of an assigned pod changed, as ActionType bits. */
export function podUpdateBits(old: Readonly<Pod>, pod: Readonly<Pod>): number {
  let bits = 0;
  if (!same(old.metadata?.labels, pod.metadata?.labels)) bits |= ActionType.UpdatePodLabel;
  if (!same(old.spec?.containers?.map((c) => c.resources), pod.spec?.containers?.map((c) => c.resources))) bits |= ActionType.UpdatePodScaleDown;
  if (!same(old.spec?.tolerations, pod.spec?.tolerations)) bits |= ActionType.UpdatePodTolerations;
  return bits;
}
