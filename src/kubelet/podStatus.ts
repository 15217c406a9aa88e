// The API status of a pod from what the runtime says about its sandbox and containers
// (generateAPIPodStatus and getPhase of pkg/kubelet): phase, kubelet-owned conditions,
// container statuses with state/lastState/restartCount, IPs and start time. Pure.
import type { Container, ContainerState, ContainerStatus, Pod, PodCondition, PodStatus } from 'kubernetes-types/core/v1.js';
import { podQOSClass } from '../api/qos.js';
import type { ContainerState as RuntimeState, PodSandboxStatus } from './runtime/types.js';

/** What the kubelet knows of one runtime container of a pod (CRI ContainerStatus + our labels). */
export interface RuntimeContainer {
  id: string;
  name: string;
  state: RuntimeState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  image: string;
  imageRef: string;
  restartCount: number;
  hash: string;
}

export interface RuntimePodStatus {
  uid: string;
  /** Newest first. */
  sandboxes: PodSandboxStatus[];
  /** Pod IPs of the newest ready sandbox. */
  ips: string[];
  /** Newest first. */
  containers: RuntimeContainer[];
}

/** Why a container is waiting, recorded when a start attempt fails (the kubelet's reasonCache). */
export interface WaitingReason {
  reason: string;
  message: string;
}

export interface PodStatusInputs {
  pod: Readonly<Pod>;
  runtime: RuntimePodStatus;
  /** The status the kubelet last computed (or the API's), basis for times, lastState and terminal phases. */
  oldStatus: Readonly<PodStatus>;
  /** `containerd`, `k8ts-process`: container IDs are `<runtimeName>://<id>`. */
  runtimeName: string;
  waitingReason(containerName: string): WaitingReason | undefined;
  /** Readiness probe result; undefined = no result yet. Containers without a readiness probe are ready once started. */
  readiness(containerId: string): boolean | undefined;
  /** Startup probe result; undefined = no result yet. */
  startup(containerId: string): boolean | undefined;
  /** The termination message of an exited container (file or log tail), read by the kubelet. */
  terminationMessage(c: RuntimeContainer): string | undefined;
  podIsTerminal: boolean;
  hostIPs: string[];
  now: string;
}

export function isRestartableInitContainer(c: Readonly<Container>): boolean {
  return c.restartPolicy === 'Always';
}

export function isHostNetworkPod(pod: Readonly<Pod>): boolean {
  return pod.spec?.hostNetwork === true;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function containerID(runtimeName: string, id: string): string {
  return `${runtimeName}://${id}`;
}

function terminatedState(c: RuntimeContainer, runtimeName: string, message: string | undefined): NonNullable<ContainerState['terminated']> {
  return {
    exitCode: c.exitCode,
    reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
    ...(message ? { message } : {}),
    startedAt: c.startedAt ? iso(c.startedAt) : null!,
    finishedAt: c.finishedAt ? iso(c.finishedAt) : null!,
    containerID: containerID(runtimeName, c.id),
  };
}

function stripNulls<T extends object>(o: T): T {
  for (const [k, v] of Object.entries(o)) if (v === null) delete (o as Record<string, unknown>)[k];
  return o;
}

function convertContainerStatuses(inputs: PodStatusInputs, specs: readonly Container[], isInit: boolean, old: readonly ContainerStatus[] | undefined): ContainerStatus[] {
  const { pod, runtime, runtimeName } = inputs;
  const hasInit = (pod.spec?.initContainers ?? []).length > 0;
  const oldByName = new Map((old ?? []).map((s) => [s.name, s]));
  return specs.map((spec) => {
    const mine = runtime.containers.filter((c) => c.name === spec.name);
    const current = mine[0];
    const previousRun = mine.find((c, i) => i > 0 && c.state === 'CONTAINER_EXITED');
    const waiting = inputs.waitingReason(spec.name);
    const before = oldByName.get(spec.name);
    const status: ContainerStatus = {
      name: spec.name,
      state: {},
      lastState: {},
      ready: false,
      restartCount: current?.restartCount ?? before?.restartCount ?? 0,
      image: spec.image ?? '',
      imageID: current?.imageRef ?? '',
      started: false,
    };
    if (current) status.containerID = containerID(runtimeName, current.id);
    if (current?.state === 'CONTAINER_RUNNING') {
      status.state = { running: { startedAt: iso(current.startedAt || current.createdAt) } };
      const hasStartup = spec.startupProbe !== undefined;
      status.started = hasStartup ? inputs.startup(current.id) === true : true;
      const hasReadiness = spec.readinessProbe !== undefined;
      // Plain init containers are never "ready"; sidecars and regular containers follow their probes.
      status.ready = isInit && !isRestartableInitContainer(spec) ? false : status.started && (hasReadiness ? inputs.readiness(current.id) === true : true);
      if (previousRun) status.lastState = { terminated: stripNulls(terminatedState(previousRun, runtimeName, inputs.terminationMessage(previousRun))) };
    } else if (current?.state === 'CONTAINER_EXITED') {
      const terminated = stripNulls(terminatedState(current, runtimeName, inputs.terminationMessage(current)));
      if (waiting) {
        // Waiting to be restarted (e.g. CrashLoopBackOff): the run that ended is the last state.
        status.state = { waiting: { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) } };
        status.lastState = { terminated };
      } else {
        status.state = { terminated };
        if (previousRun) status.lastState = { terminated: stripNulls(terminatedState(previousRun, runtimeName, inputs.terminationMessage(previousRun))) };
      }
      status.ready = false;
    } else {
      // Not created yet (or created but not started).
      const reason = waiting?.reason ?? (hasInit && !isInit ? 'PodInitializing' : 'ContainerCreating');
      status.state = { waiting: { reason, ...(waiting?.message ? { message: waiting.message } : {}) } };
      if (previousRun) status.lastState = { terminated: stripNulls(terminatedState(previousRun, runtimeName, inputs.terminationMessage(previousRun))) };
      else if (before?.lastState?.terminated) status.lastState = before.lastState;
      if (!current && before?.state?.terminated && !inputs.podIsTerminal) {
        // The container ran before (its runtime record was removed): keep what is known.
        status.lastState = { terminated: before.state.terminated };
      }
      if (inputs.podIsTerminal && before?.state?.terminated) status.state = { terminated: before.state.terminated };
    }
    return status;
  });
}

/** upstream getPhase. */
export function podPhase(pod: Readonly<Pod>, statuses: readonly ContainerStatus[], podIsTerminal: boolean): NonNullable<PodStatus['phase']> {
  const spec = pod.spec!;
  const byName = new Map(statuses.map((s) => [s.name, s]));
  let pendingInitialization = 0;
  let failedInitialization = 0;
  for (const c of spec.initContainers ?? []) {
    if (isRestartableInitContainer(c)) continue;
    const s = byName.get(c.name);
    if (!s) {
      pendingInitialization++;
      continue;
    }
    if (s.state?.running) pendingInitialization++;
    else if (s.state?.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) {
        if (s.lastState.terminated.exitCode !== 0) failedInitialization++;
      } else pendingInitialization++;
    } else pendingInitialization++;
  }
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of spec.initContainers ?? []) {
    if (!isRestartableInitContainer(c)) continue;
    const s = byName.get(c.name);
    if (!s) {
      unknown++;
      continue;
    }
    if (s.state?.running) {
      if (!s.started) pendingInitialization++;
      running++;
    } else if (s.state?.terminated) {
      // not counted
    } else if (s.state?.waiting) {
      if (!s.lastState?.terminated) {
        pendingInitialization++;
        waiting++;
      }
    } else {
      pendingInitialization++;
      unknown++;
    }
  }
  for (const c of spec.containers) {
    const s = byName.get(c.name);
    if (!s) {
      unknown++;
      continue;
    }
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }
  if (failedInitialization > 0 && spec.restartPolicy === 'Never') return 'Failed';
  const anyRegularStarted = spec.containers.some((c) => {
    const s = byName.get(c.name);
    return !!(s && (s.state?.running || s.state?.terminated || s.lastState?.terminated));
  });
  if ((pendingInitialization > 0 && !anyRegularStarted) || waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (podIsTerminal && !isStaticPod(pod)) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (spec.restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (spec.restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

export function isStaticPod(pod: Readonly<Pod>): boolean {
  const src = pod.metadata?.annotations?.['kubernetes.io/config.source'];
  return src !== undefined && src !== 'api';
}

const KUBELET_CONDITIONS = new Set(['PodScheduled', 'Ready', 'Initialized', 'ContainersReady', 'PodReadyToStartContainers']);

function cond(type: string, ok: boolean, reason?: string, message?: string): PodCondition {
  return { type, status: ok ? 'True' : 'False', ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

function unreadyMessage(unknown: string[], unready: string[]): string {
  const parts: string[] = [];
  if (unknown.length) parts.push(`containers with unknown status: [${unknown.join(' ')}]`);
  if (unready.length) parts.push(`containers with unready status: [${unready.join(' ')}]`);
  return parts.join(', ');
}

export function containersReadyCondition(pod: Readonly<Pod>, statuses: readonly ContainerStatus[], phase: string): PodCondition {
  if (phase === 'Succeeded') return cond('ContainersReady', false, 'PodCompleted');
  const byName = new Map(statuses.map((s) => [s.name, s]));
  const unknown: string[] = [];
  const unready: string[] = [];
  for (const c of pod.spec?.initContainers ?? []) {
    if (!isRestartableInitContainer(c)) continue;
    const s = byName.get(c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) unready.push(c.name);
  }
  for (const c of pod.spec?.containers ?? []) {
    const s = byName.get(c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) unready.push(c.name);
  }
  if (unknown.length || unready.length) return cond('ContainersReady', false, 'ContainersNotReady', unreadyMessage(unknown, unready));
  return cond('ContainersReady', true);
}

export function readyCondition(pod: Readonly<Pod>, conditions: readonly PodCondition[], containersReady: PodCondition, phase: string): PodCondition {
  if (phase === 'Succeeded') return cond('Ready', false, 'PodCompleted');
  if (containersReady.status !== 'True') return cond('Ready', false, containersReady.reason, containersReady.message);
  const unready: string[] = [];
  for (const g of pod.spec?.readinessGates ?? []) {
    const c = conditions.find((x) => x.type === g.conditionType);
    if (!c) unready.push(`corresponding condition of pod readiness gate "${g.conditionType}" does not exist.`);
    else if (c.status !== 'True') unready.push(`the status of pod readiness gate "${g.conditionType}" is not "True", but ${c.status}`);
  }
  if (unready.length) return cond('Ready', false, 'ReadinessGatesNotReady', unready.join(', '));
  return cond('Ready', true);
}

export function initializedCondition(pod: Readonly<Pod>, statuses: readonly ContainerStatus[], phase: string): PodCondition {
  const byName = new Map(statuses.map((s) => [s.name, s]));
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of pod.spec?.initContainers ?? []) {
    const s = byName.get(c.name);
    if (!s) {
      unknown.push(c.name);
      continue;
    }
    if (isRestartableInitContainer(c)) {
      if (!s.started) incomplete.push(c.name);
    } else if (!(s.state?.terminated && s.state.terminated.exitCode === 0)) {
      incomplete.push(c.name);
    }
  }
  const regularStarted = (pod.spec?.containers ?? []).some((c) => {
    const s = byName.get(c.name);
    return !!(s && (s.state?.running || s.state?.terminated || s.lastState?.terminated));
  });
  if (phase === 'Succeeded' && unknown.length === 0) return cond('Initialized', true, 'PodCompleted');
  if (regularStarted) return cond('Initialized', true);
  if (unknown.length || incomplete.length) {
    const parts: string[] = [];
    if (unknown.length) parts.push(`containers with unknown status: [${unknown.join(' ')}]`);
    if (incomplete.length) parts.push(`containers with incomplete status: [${incomplete.join(' ')}]`);
    return cond('Initialized', false, 'ContainersNotInitialized', parts.join(', '));
  }
  return cond('Initialized', true);
}

function readyToStartContainers(pod: Readonly<Pod>, runtime: RuntimePodStatus): PodCondition {
  const sb = runtime.sandboxes[0];
  const ok = !!sb && sb.state === 'SANDBOX_READY' && (isHostNetworkPod(pod) || runtime.ips.length > 0);
  return cond('PodReadyToStartContainers', ok);
}

/** Keeps lastTransitionTime of conditions whose status did not change (the status manager's updateLastTransitionTime). */
function withTransitionTimes(conditions: PodCondition[], old: readonly PodCondition[] | undefined, now: string): PodCondition[] {
  return conditions.map((c) => {
    const before = old?.find((o) => o.type === c.type);
    const t = before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now;
    // No `lastProbeTime: null`: the API server drops nulls, and a field it drops makes every status differ from the stored one.
    return { ...c, lastTransitionTime: t };
  });
}

export function generatePodStatus(inputs: PodStatusInputs): PodStatus {
  const { pod, runtime, oldStatus } = inputs;
  const containerStatuses = convertContainerStatuses(inputs, pod.spec?.containers ?? [], false, oldStatus.containerStatuses);
  const initContainerStatuses = convertContainerStatuses(inputs, pod.spec?.initContainers ?? [], true, oldStatus.initContainerStatuses);
  const all = [...initContainerStatuses, ...containerStatuses];
  let phase = podPhase(pod, all, inputs.podIsTerminal);
  if (phase !== 'Failed' && phase !== 'Succeeded') {
    if (oldStatus.phase === 'Failed' || oldStatus.phase === 'Succeeded') phase = oldStatus.phase;
    else if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') phase = pod.status.phase;
  }
  if ((pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') && phase !== pod.status.phase) phase = pod.status.phase;
  const status: PodStatus = { phase };
  if (phase === oldStatus.phase) {
    const reason = oldStatus.reason || pod.status?.reason;
    const message = oldStatus.message || pod.status?.message;
    if (reason) status.reason = reason;
    if (message) status.message = message;
  }
  const kept = (pod.status?.conditions ?? []).filter((c) => !KUBELET_CONDITIONS.has(c.type));
  const disruption = oldStatus.conditions?.find((c) => c.type === 'DisruptionTarget');
  if (disruption && !kept.some((c) => c.type === 'DisruptionTarget')) kept.push(disruption);
  const containersReady = containersReadyCondition(pod, all, phase);
  const own = [
    readyToStartContainers(pod, runtime),
    initializedCondition(pod, all, phase),
    readyCondition(pod, kept, containersReady, phase),
    containersReady,
    cond('PodScheduled', true),
  ];
  // Transition times come from the kubelet's own last status (as upstream's status manager does): the
  // pod a sync started with can be one write behind the API, and taking its times made two syncs in a
  // row write alternating times back and forth for ever.
  status.conditions = [...kept, ...withTransitionTimes(own, oldStatus.conditions ?? pod.status?.conditions, inputs.now)];
  if (inputs.hostIPs.length) {
    status.hostIP = inputs.hostIPs[0]!;
    status.hostIPs = inputs.hostIPs.map((ip) => ({ ip }));
  }
  const ips = isHostNetworkPod(pod) ? inputs.hostIPs.slice(0, 1) : runtime.ips.length ? runtime.ips : (oldStatus.podIPs ?? []).map((p) => p.ip!);
  if (ips.length) {
    status.podIP = ips[0]!;
    status.podIPs = ips.map((ip) => ({ ip }));
  }
  status.startTime = oldStatus.startTime ?? pod.status?.startTime ?? inputs.now;
  if (initContainerStatuses.length) status.initContainerStatuses = initContainerStatuses;
  status.containerStatuses = containerStatuses;
  status.qosClass = pod.status?.qosClass ?? podQOSClass(pod);
  return status;
}
