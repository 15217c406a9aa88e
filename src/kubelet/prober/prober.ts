// One probe run as upstream's prober.probe does it (pkg/kubelet/prober/prober.go): pick the action from the
// probe spec, retry it up to 3 times while it errors, turn the outcome into a Success/Failure and record the
// `Unhealthy` / `ProbeWarning` event on the container.
import type { Container, ObjectReference, Pod, PodStatus, Probe } from 'kubernetes-types/core/v1.js';
import { expandCommandOnlyStatic } from '../envvars.js';
import type { EventRecorder } from '../../client/events.js';
import type { ContainerRuntime } from '../runtime/types.js';
import { execProbe, grpcProbe, httpProbe, newRequestForHTTPGetAction, ProbeError, resolveContainerPort, tcpProbe, type ProbeOutcome } from './probes.js';

export type ProbeType = 'Liveness' | 'Readiness' | 'Startup';

/** The cached result of a probe worker (upstream results.Result; Unknown only before a startup probe ran). */
export type ProbeWorkerResult = 'Success' | 'Failure' | 'Unknown';

/** Event reasons (upstream pkg/kubelet/events). */
export const CONTAINER_UNHEALTHY = 'Unhealthy';
export const CONTAINER_PROBE_WARNING = 'ProbeWarning';

const MAX_PROBE_RETRIES = 3;

/** Where kubelet events go: src/client/events.ts EventRecorder fits (only `event` is used). */
export type EventSink = Pick<EventRecorder, 'event'>;

/** Upstream defaults for fields a static pod may leave unset (the API server defaults them for API pods). */
export function probeTiming(spec: Probe): { initialDelaySeconds: number; periodSeconds: number; timeoutSeconds: number; successThreshold: number; failureThreshold: number } {
  return {
    initialDelaySeconds: spec.initialDelaySeconds ?? 0,
    periodSeconds: spec.periodSeconds || 10,
    timeoutSeconds: spec.timeoutSeconds || 1,
    successThreshold: spec.successThreshold || 1,
    failureThreshold: spec.failureThreshold || 3,
  };
}

/** `docker://abc`, `containerd://abc` → `abc` (a bare id stays as it is). */
export function runtimeContainerId(containerID: string): string {
  const i = containerID.indexOf('://');
  return i === -1 ? containerID : containerID.slice(i + 3);
}

/**
 * The ObjectReference for events about a pod. Built by hand because pods from list responses and informers
 * carry no kind/apiVersion, and the recorder drops events about objects without them.
 */
export function podRef(pod: Pod): ObjectReference {
  const ref: ObjectReference = { kind: 'Pod', apiVersion: 'v1', name: pod.metadata?.name ?? '' };
  if (pod.metadata?.namespace) ref.namespace = pod.metadata.namespace;
  if (pod.metadata?.uid) ref.uid = pod.metadata.uid;
  if (pod.metadata?.resourceVersion) ref.resourceVersion = pod.metadata.resourceVersion;
  return ref;
}

/** The ObjectReference events about a container use (upstream GenerateContainerRef: the pod with a fieldPath). */
export function containerRef(pod: Pod, containerName: string): ObjectReference {
  const isInit = (pod.spec?.initContainers ?? []).some((c) => c.name === containerName);
  const isEphemeral = !isInit && (pod.spec?.ephemeralContainers ?? []).some((c) => c.name === containerName);
  const field = isInit ? 'initContainers' : isEphemeral ? 'ephemeralContainers' : 'containers';
  return { ...podRef(pod), fieldPath: `spec.${field}{${containerName}}` };
}

/** Runs the action of `spec` once. Throws ProbeError when the probe cannot run. */
export function runProbeAction(
  runtime: Pick<ContainerRuntime, 'execSync'>,
  spec: Probe,
  pod: Pod,
  status: PodStatus,
  container: Container,
  containerId: string,
): Promise<ProbeOutcome> {
  const { timeoutSeconds } = probeTiming(spec);
  const podIP = status.podIP ?? '';
  if (spec.exec) return execProbe(runtime, containerId, expandCommandOnlyStatic(spec.exec.command ?? [], container.env), timeoutSeconds);
  if (spec.httpGet) return httpProbe(newRequestForHTTPGetAction(spec.httpGet, container, podIP, 'probe'), timeoutSeconds);
  if (spec.tcpSocket) return tcpProbe(spec.tcpSocket.host || podIP, resolveContainerPort(spec.tcpSocket.port, container), timeoutSeconds);
  if (spec.grpc) return grpcProbe(podIP, spec.grpc.service ?? '', spec.grpc.port, timeoutSeconds);
  const p = pod.metadata;
  return Promise.reject(new ProbeError(`missing probe handler for ${p?.name ?? ''}_${p?.namespace ?? ''}(${p?.uid ?? ''}):${container.name}`));
}

export interface ProbeRun {
  result: 'Success' | 'Failure';
  /** Set when the probe errored on every try: the worker throws the result away. */
  error?: string;
}

/**
 * Upstream prober.probe: up to 3 tries while the probe errors; events `<Type> probe failed: <output>`,
 * `<Type> probe errored: <error>` (Unhealthy) and `<Type> probe warning: <output>` (ProbeWarning).
 */
export async function probeContainer(
  o: { runtime: Pick<ContainerRuntime, 'execSync'>; recorder?: EventSink | undefined },
  probeType: ProbeType,
  spec: Probe,
  pod: Pod,
  status: PodStatus,
  container: Container,
  containerId: string,
): Promise<ProbeRun> {
  let outcome: ProbeOutcome | undefined;
  let error: string | undefined;
  for (let i = 0; i < MAX_PROBE_RETRIES; i++) {
    try {
      outcome = await runProbeAction(o.runtime, spec, pod, status, container, containerId);
      error = undefined;
      break;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
  }
  const event = (reason: string, message: string) => o.recorder?.event(containerRef(pod, container.name), 'Warning', reason, message);
  if (error !== undefined || !outcome) {
    event(CONTAINER_UNHEALTHY, `${probeType} probe errored: ${error}`);
    return { result: 'Failure', error: error ?? 'no outcome' };
  }
  switch (outcome.result) {
    case 'success':
      return { result: 'Success' };
    case 'warning':
      event(CONTAINER_PROBE_WARNING, `${probeType} probe warning: ${outcome.output}`);
      return { result: 'Success' };
    case 'failure':
      event(CONTAINER_UNHEALTHY, `${probeType} probe failed: ${outcome.output}`);
      return { result: 'Failure' };
    default:
      return { result: 'Failure' };
  }
}
