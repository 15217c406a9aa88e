// What to do next for a pod, from its spec and what the runtime has (computePodActions of
// pkg/kubelet/kuberuntime): create or replace the sandbox, run the next init container, start
// (or restart) containers, kill containers whose spec changed or whose probes failed, or kill the
// whole pod once nothing is left to run. Pure; back-off is applied when the actions are carried out.
import { createHash } from 'node:crypto';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { isHostNetworkPod, isRestartableInitContainer, type RuntimeContainer, type RuntimePodStatus } from './podStatus.js';

export interface ContainerToKill {
  id: string;
  name: string;
  /** Why, for the Killing event: `Container web failed liveness probe, will be restarted`. */
  message: string;
}

export interface PodActions {
  killPod: boolean;
  createSandbox: boolean;
  /** The sandbox the containers go into (when not creating a new one). */
  sandboxId?: string | undefined;
  /** Sandbox attempt number for a (re)created sandbox. */
  attempt: number;
  /** The next plain init container to run. */
  nextInitContainer?: Container | undefined;
  containersToStart: Container[];
  containersToKill: ContainerToKill[];
}

export interface ProbeFailures {
  /** Container ids whose liveness probe failed. */
  liveness: ReadonlySet<string>;
  /** Container ids whose startup probe failed. */
  startup: ReadonlySet<string>;
}

/** A stable hash of a container's spec: a change restarts the container (upstream's container hash). */
export function containerHash(c: Readonly<Container>): string {
  const { resources: _r, ...rest } = c as Container;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 8);
}

function latest(runtime: RuntimePodStatus, name: string): RuntimeContainer | undefined {
  return runtime.containers.find((c) => c.name === name);
}

/** shouldContainerBeRestarted: never-run containers start; exited ones per restartPolicy. */
export function shouldRestart(pod: Readonly<Pod>, c: Readonly<Container>, runtime: RuntimePodStatus): boolean {
  const last = latest(runtime, c.name);
  if (!last || last.state === 'CONTAINER_CREATED' || last.state === 'CONTAINER_UNKNOWN') return true;
  if (last.state === 'CONTAINER_RUNNING') return false;
  const policy = isRestartableInitContainer(c) ? 'Always' : (pod.spec?.restartPolicy ?? 'Always');
  if (policy === 'Never') return false;
  if (policy === 'OnFailure') return last.exitCode !== 0;
  return true;
}

function sandboxChanged(pod: Readonly<Pod>, runtime: RuntimePodStatus): { create: boolean; attempt: number; id?: string } {
  const sandboxes = runtime.sandboxes;
  if (sandboxes.length === 0) return { create: true, attempt: 0 };
  const newest = sandboxes[0]!;
  const ready = sandboxes.filter((s) => s.state === 'SANDBOX_READY');
  const attempt = newest.metadata.attempt + 1;
  if (ready.length > 1) return { create: true, attempt, id: newest.id };
  if (newest.state !== 'SANDBOX_READY') return { create: true, attempt, id: newest.id };
  const hostNet = newest.linux?.namespaces?.options?.network === 'NODE';
  if (hostNet !== isHostNetworkPod(pod)) return { create: true, attempt, id: newest.id };
  if (!isHostNetworkPod(pod) && !newest.network?.ip) return { create: true, attempt, id: newest.id };
  return { create: false, attempt: newest.metadata.attempt, id: newest.id };
}

function restartPolicyAllowsRetry(pod: Readonly<Pod>): boolean {
  return (pod.spec?.restartPolicy ?? 'Always') !== 'Never';
}

export function computePodActions(pod: Readonly<Pod>, runtime: RuntimePodStatus, probes: ProbeFailures): PodActions {
  const spec = pod.spec!;
  const sb = sandboxChanged(pod, runtime);
  const actions: PodActions = { killPod: sb.create, createSandbox: sb.create, sandboxId: sb.id, attempt: sb.attempt, containersToStart: [], containersToKill: [] };
  const inits = spec.initContainers ?? [];
  if (sb.create) {
    // A pod that ran to completion under restartPolicy Never does not get a new sandbox.
    if (!restartPolicyAllowsRetry(pod) && sb.attempt !== 0 && runtime.containers.length > 0) {
      actions.createSandbox = false;
      return actions;
    }
    const firstInit = inits[0];
    if (firstInit) {
      if (isRestartableInitContainer(firstInit)) actions.containersToStart.push(firstInit);
      else actions.nextInitContainer = firstInit;
      return actions;
    }
    actions.containersToStart = spec.containers.filter((c) => {
      const last = latest(runtime, c.name);
      if (spec.restartPolicy === 'OnFailure' && last?.state === 'CONTAINER_EXITED' && last.exitCode === 0) return false;
      return true;
    });
    return actions;
  }

  // Init containers, in order: each must succeed (sidecars must have started) before the next.
  let initialized = true;
  for (const c of inits) {
    const last = latest(runtime, c.name);
    if (isRestartableInitContainer(c)) {
      if (!last || last.state !== 'CONTAINER_RUNNING') {
        if (shouldRestart(pod, c, runtime)) actions.containersToStart.push(c);
        if (!last) {
          initialized = false;
          break;
        }
        continue;
      }
      if (probes.liveness.has(last.id)) actions.containersToKill.push({ id: last.id, name: c.name, message: `Container ${c.name} failed liveness probe, will be restarted` });
      else if (probes.startup.has(last.id)) actions.containersToKill.push({ id: last.id, name: c.name, message: `Container ${c.name} failed startup probe, will be restarted` });
      continue;
    }
    if (last?.state === 'CONTAINER_EXITED' && last.exitCode === 0) continue;
    initialized = false;
    if (!last || last.state === 'CONTAINER_CREATED' || last.state === 'CONTAINER_UNKNOWN') {
      actions.nextInitContainer = c;
    } else if (last.state === 'CONTAINER_EXITED') {
      if (restartPolicyAllowsRetry(pod)) actions.nextInitContainer = c;
      else actions.killPod = true;
    }
    // A running init container: wait for it.
    break;
  }
  if (!initialized) return actions;

  let keep = 0;
  for (const c of spec.containers) {
    const last = latest(runtime, c.name);
    if (!last || last.state !== 'CONTAINER_RUNNING') {
      if (shouldRestart(pod, c, runtime)) actions.containersToStart.push(c);
      continue;
    }
    let why: string | undefined;
    if (last.hash && last.hash !== containerHash(c)) why = `Container ${c.name} definition changed, will be restarted`;
    else if (probes.liveness.has(last.id)) why = `Container ${c.name} failed liveness probe, will be restarted`;
    else if (probes.startup.has(last.id)) why = `Container ${c.name} failed startup probe, will be restarted`;
    if (why === undefined) {
      keep++;
      continue;
    }
    actions.containersToKill.push({ id: last.id, name: c.name, message: why });
    if (restartPolicyAllowsRetry(pod) || why.includes('definition changed')) actions.containersToStart.push(c);
  }
  if (keep === 0 && actions.containersToStart.length === 0) {
    // Nothing runs and nothing will: tear the pod down (its sandbox goes; statuses stay).
    actions.killPod = true;
  }
  return actions;
}
