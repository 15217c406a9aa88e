// Carries out a pod's actions on the container runtime (pkg/kubelet/kuberuntime): sandbox configs,
// image pulls with back-off, container configs (env, mounts, resources, labels), start with
// CrashLoopBackOff, lifecycle hooks, graceful kills; and reads a pod's runtime status back.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Container, Lifecycle, LifecycleHandler, Pod } from 'kubernetes-types/core/v1.js';
import { milliValue, quantityValue } from '../api/quantity.js';
import { podQOSClass } from '../api/qos.js';
import type { EventRecorder } from '../client/events.js';
import { logger } from '../util/log.js';
import { Backoff } from './backoff.js';
import { expandContainerCommandAndArgs } from './envvars.js';
import { podHostnameAndDomain } from './hosts.js';
import { computePodActions, containerHash, type PodActions, type ProbeFailures } from './podActions.js';
import { isHostNetworkPod, type RuntimeContainer, type RuntimePodStatus, type WaitingReason } from './podStatus.js';
import {
  isRuntimeError,
  type AuthConfig,
  type ContainerConfig,
  type ContainerRuntime,
  type DNSConfig,
  type KeyValue,
  type LinuxContainerResources,
  type Mount,
  type PodSandboxConfig,
  type PortMapping,
} from './runtime/types.js';

const log = logger('kuberuntime');

// Labels and annotations the kubelet puts on sandboxes and containers (pkg/kubelet/types/labels.go, kuberuntime/labels.go).
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const ANNOTATION_CONTAINER_HASH = 'io.kubernetes.container.hash';
export const ANNOTATION_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANNOTATION_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
export const ANNOTATION_TERMINATION_MESSAGE_POLICY = 'io.kubernetes.container.terminationMessagePolicy';
export const ANNOTATION_TERMINATION_GRACE = 'io.kubernetes.pod.terminationGracePeriod';
/** Our own: where on the host the container's termination-log file is. */
export const ANNOTATION_TERMINATION_MESSAGE_HOST_PATH = 'k8ts.io/termination-message-host-path';

const MAX_TERMINATION_MESSAGE_BYTES = 4096;
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;
/** The kubelet never kills with less than this grace (minimumGracePeriodInSeconds). */
const MIN_GRACE_SECONDS = 2;

/** What the kubelet provides from its other parts (env, volumes, DNS, hooks); each may throw a SyncError. */
export interface ContainerEnvironment {
  /** Env for the container (image env is the runtime's); throws SyncError CreateContainerConfigError. */
  env(pod: Readonly<Pod>, container: Readonly<Container>, podIPs: string[]): Promise<KeyValue[]>;
  /** Volume mounts plus /etc/hosts; throws SyncError CreateContainerConfigError. */
  mounts(pod: Readonly<Pod>, container: Readonly<Container>, podIPs: string[], envs: KeyValue[]): Promise<Mount[]>;
  dnsConfig(pod: Readonly<Pod>): Promise<DNSConfig | undefined>;
  /** Runs a lifecycle hook; returns an error message or undefined. */
  runHook(pod: Readonly<Pod>, container: Readonly<Container>, containerId: string, handler: LifecycleHandler, kind: 'PostStart' | 'PreStop', signal: AbortSignal): Promise<string | undefined>;
  /** Registry credentials for a pod's image (imagePullSecrets). */
  pullAuth(pod: Readonly<Pod>, image: string): Promise<AuthConfig | undefined>;
}

/** A start failure the kubelet reports as a waiting reason (CreateContainerConfigError, ErrImagePull…). */
export class SyncError extends Error {
  override readonly name = 'SyncError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface KubeRuntimeOptions {
  runtime: ContainerRuntime;
  runtimeName: string;
  recorder: EventRecorder;
  /** The node's `/var/log/pods`. */
  logRoot: string;
  /** The node's `/var/lib/kubelet/pods`. */
  podsDir: string;
  env: ContainerEnvironment;
  clusterDomain: string;
  /** Node memory capacity, for OOM score adjustments of burstable pods. */
  memoryCapacityBytes: number;
  /**
   * The CRI runtime handler of the pod's RuntimeClass (`""` for none); throws (e.g.
   * RuntimeClassNotFoundError) when it cannot be resolved, and the sandbox is not created.
   */
  runtimeHandler?: (pod: Readonly<Pod>) => string;
}

/** Go's time.Duration String for whole seconds: `10s`, `1m20s`, `5m0s`. */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`;
}

function podFullName(pod: Readonly<Pod>): string {
  return `${pod.metadata!.name}_${pod.metadata!.namespace}`;
}

export function podLogDirectory(logRoot: string, pod: Readonly<Pod>): string {
  return join(logRoot, `${pod.metadata!.namespace}_${pod.metadata!.name}_${pod.metadata!.uid}`);
}

/** The pod's cgroup under the QoS tiers of the cgroupfs driver: /kubepods[/burstable|/besteffort]/pod<uid>. */
export function podCgroupParent(pod: Readonly<Pod>): string {
  const qos = podQOSClass(pod);
  const uid = pod.metadata!.uid!;
  if (qos === 'Guaranteed') return `/kubepods/pod${uid}`;
  return `/kubepods/${qos === 'Burstable' ? 'burstable' : 'besteffort'}/pod${uid}`;
}

export function containerResources(pod: Readonly<Pod>, c: Readonly<Container>, memoryCapacityBytes: number): LinuxContainerResources {
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  const cpuRequest = milliValue(req.cpu ?? lim.cpu);
  const r: LinuxContainerResources = { cpuShares: cpuRequest ? Math.max(2, Math.floor((cpuRequest * 1024) / 1000)) : 2, cpuPeriod: 100_000 };
  if (lim.cpu) r.cpuQuota = Math.max(1000, Math.floor((milliValue(lim.cpu) * 100_000) / 1000));
  if (lim.memory) r.memoryLimitInBytes = quantityValue(lim.memory);
  // OOM score as upstream's policy; the negative score of Guaranteed pods needs CAP_SYS_RESOURCE, which runtimes drop when absent.
  const qos = podQOSClass(pod);
  if (qos === 'BestEffort') r.oomScoreAdj = 1000;
  else if (qos === 'Burstable') {
    const memReq = quantityValue(req.memory ?? '0');
    const score = 1000 - Math.floor((1000 * memReq) / Math.max(1, memoryCapacityBytes));
    r.oomScoreAdj = Math.min(999, Math.max(2, score));
  } else r.oomScoreAdj = -997;
  return r;
}

function portMappings(pod: Readonly<Pod>): PortMapping[] {
  const out: PortMapping[] = [];
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      out.push({ protocol: (p.protocol ?? 'TCP') as PortMapping['protocol'], containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIP ?? '' });
    }
  }
  return out;
}

function runtimeContainer(id: string, s: Awaited<ReturnType<ContainerRuntime['containerStatus']>>): RuntimeContainer {
  const ms = (n: bigint) => Number(n / 1_000_000n);
  return {
    id,
    name: s.labels[LABEL_CONTAINER_NAME] ?? s.metadata.name,
    state: s.state,
    createdAt: ms(s.createdAt),
    startedAt: ms(s.startedAt),
    finishedAt: ms(s.finishedAt),
    exitCode: s.exitCode,
    reason: s.reason,
    message: s.message,
    image: s.image.image,
    imageRef: s.imageRef,
    restartCount: Number(s.annotations[ANNOTATION_RESTART_COUNT] ?? s.metadata.attempt ?? 0),
    hash: s.annotations[ANNOTATION_CONTAINER_HASH] ?? '',
  };
}

export interface SyncResult {
  /** Sync again after this many ms (back-off ends, a retry is due). */
  retryAfterMs?: number;
}

export class KubeRuntimeManager {
  /** CrashLoopBackOff: 10 s doubling to 5 min (upstream's backOffPeriod and MaxContainerBackOff). */
  readonly restartBackoff: Backoff;
  /** ImagePullBackOff, same schedule. */
  readonly pullBackoff: Backoff;
  /** Why each container of a pod last failed to start, per pod uid (upstream's reasonCache). */
  private readonly reasons = new Map<string, Map<string, WaitingReason>>();
  private readonly termMessagePaths = new Map<string, string>();

  constructor(private readonly o: KubeRuntimeOptions) {
    this.restartBackoff = new Backoff(10_000, 300_000);
    this.pullBackoff = new Backoff(10_000, 300_000);
  }

  waitingReason(uid: string, name: string): WaitingReason | undefined {
    return this.reasons.get(uid)?.get(name);
  }

  private setReason(uid: string, name: string, r: WaitingReason | undefined): void {
    let m = this.reasons.get(uid);
    if (!r) {
      m?.delete(name);
      return;
    }
    if (!m) this.reasons.set(uid, (m = new Map()));
    m.set(name, r);
  }

  forgetPod(uid: string): void {
    this.reasons.delete(uid);
  }

  /** Everything the runtime has for the pod `uid`, newest first. */
  async getPodStatus(uid: string): Promise<RuntimePodStatus> {
    const rt = this.o.runtime;
    const sandboxes = await rt.listPodSandbox({ labelSelector: { [LABEL_POD_UID]: uid } });
    const sbStatuses = (await Promise.all(sandboxes.map((s) => rt.podSandboxStatus(s.id).catch(() => undefined)))).filter((s) => s !== undefined);
    sbStatuses.sort((a, b) => (b.createdAt > a.createdAt ? 1 : b.createdAt < a.createdAt ? -1 : 0));
    const list = await rt.listContainers({ labelSelector: { [LABEL_POD_UID]: uid } });
    const containers = (
      await Promise.all(
        list.map(async (c) => {
          try {
            return runtimeContainer(c.id, await rt.containerStatus(c.id));
          } catch {
            return undefined;
          }
        }),
      )
    ).filter((c) => c !== undefined);
    containers.sort((a, b) => b.createdAt - a.createdAt || b.restartCount - a.restartCount);
    const ready = sbStatuses.find((s) => s.state === 'SANDBOX_READY');
    const ips = ready?.network?.ip ? [ready.network.ip, ...ready.network.additionalIps.map((a) => a.ip)] : [];
    return { uid, sandboxes: sbStatuses, ips, containers };
  }

  /** The termination message of an exited container: its termination-log file, or the log tail with FallbackToLogsOnError. */
  async terminationMessage(c: RuntimeContainer, pod: Readonly<Pod>): Promise<string | undefined> {
    const path = this.termMessagePaths.get(c.id);
    let msg = '';
    if (path) msg = (await readFile(path, 'utf8').catch(() => '')).slice(0, MAX_TERMINATION_MESSAGE_BYTES);
    const spec = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((x) => x.name === c.name);
    if (!msg && spec?.terminationMessagePolicy === 'FallbackToLogsOnError' && c.exitCode !== 0) {
      const st = await this.o.runtime.containerStatus(c.id).catch(() => undefined);
      if (st?.logPath) {
        const raw = await readFile(st.logPath, 'utf8').catch(() => '');
        const lines = raw
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ').slice(3).join(' '));
        msg = lines.slice(-FALLBACK_LOG_LINES).join('\n').slice(-FALLBACK_LOG_BYTES);
      }
    }
    return msg || undefined;
  }

  /** Caches termination-message host paths of containers found in the runtime (after a kubelet restart). */
  async learnContainer(id: string): Promise<void> {
    if (this.termMessagePaths.has(id)) return;
    const st = await this.o.runtime.containerStatus(id).catch(() => undefined);
    const p = st?.annotations[ANNOTATION_TERMINATION_MESSAGE_HOST_PATH];
    if (p) this.termMessagePaths.set(id, p);
  }

  computeActions(pod: Readonly<Pod>, status: RuntimePodStatus, probes: ProbeFailures): PodActions {
    return computePodActions(pod, status, probes);
  }

  async sandboxConfig(pod: Readonly<Pod>, attempt: number): Promise<PodSandboxConfig> {
    const m = pod.metadata!;
    const hostNet = isHostNetworkPod(pod);
    const dns = await this.o.env.dnsConfig(pod);
    const sysctls: Record<string, string> = {};
    for (const s of pod.spec?.securityContext?.sysctls ?? []) sysctls[s.name] = s.value;
    return {
      metadata: { name: m.name!, uid: m.uid!, namespace: m.namespace!, attempt },
      hostname: hostNet ? '' : podHostnameAndDomain(pod as Pod, this.o.clusterDomain).hostname,
      logDirectory: podLogDirectory(this.o.logRoot, pod),
      ...(dns ? { dnsConfig: dns } : {}),
      portMappings: portMappings(pod),
      labels: { ...(m.labels ?? {}), [LABEL_POD_NAME]: m.name!, [LABEL_POD_NAMESPACE]: m.namespace!, [LABEL_POD_UID]: m.uid! },
      annotations: { ...(m.annotations ?? {}) },
      linux: {
        cgroupParent: podCgroupParent(pod),
        securityContext: {
          namespaceOptions: {
            network: hostNet ? 'NODE' : 'POD',
            pid: pod.spec?.hostPID ? 'NODE' : pod.spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
            ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
          },
          ...(pod.spec?.securityContext?.runAsUser !== undefined ? { runAsUser: pod.spec.securityContext.runAsUser } : {}),
          ...(pod.spec?.securityContext?.runAsGroup !== undefined ? { runAsGroup: pod.spec.securityContext.runAsGroup } : {}),
          ...(pod.spec?.securityContext?.supplementalGroups ? { supplementalGroups: pod.spec.securityContext.supplementalGroups } : {}),
        },
        ...(Object.keys(sysctls).length ? { sysctls } : {}),
      },
    };
  }

  /** Runs a pod's actions; failures of single containers become waiting reasons and events, not exceptions. */
  async syncPod(pod: Readonly<Pod>, status: RuntimePodStatus, probes: ProbeFailures, signal: AbortSignal): Promise<SyncResult> {
    const actions = this.computeActions(pod, status, probes);
    let retryAfterMs: number | undefined;
    const later = (ms: number) => {
      retryAfterMs = retryAfterMs === undefined ? ms : Math.min(retryAfterMs, ms);
    };
    if (actions.killPod) {
      if (actions.createSandbox && status.sandboxes.some((s) => s.state === 'SANDBOX_READY')) {
        this.o.recorder.event(pod, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      }
      await this.killPod(pod, status, undefined);
      if (!actions.createSandbox) return {};
    }
    for (const k of actions.containersToKill) {
      const spec = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === k.name);
      await this.killContainer(pod, spec, k.id, k.message, undefined);
    }
    let sandboxId = actions.sandboxId;
    let podIPs = status.ips;
    // The handler the pod's sandbox runs with; images are looked up and pulled for it (CRI ImageSpec.runtime_handler).
    let runtimeHandler = status.sandboxes.find((s) => s.id === sandboxId)?.runtimeHandler ?? '';
    const sandboxConfig = await this.sandboxConfig(pod, actions.attempt);
    if (actions.createSandbox) {
      try {
        // As upstream's createPodSandbox: RuntimeClass → handler first; a missing class fails the sandbox.
        runtimeHandler = this.o.runtimeHandler?.(pod) ?? '';
        await mkdir(sandboxConfig.logDirectory, { recursive: true });
        sandboxId = await this.o.runtime.runPodSandbox(sandboxConfig, runtimeHandler);
        const sb = await this.o.runtime.podSandboxStatus(sandboxId);
        podIPs = sb.network?.ip ? [sb.network.ip, ...sb.network.additionalIps.map((a) => a.ip)] : [];
      } catch (err) {
        const message = (err as Error).message;
        this.o.recorder.event(pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${message}`);
        log.warn({ pod: podFullName(pod), err: message }, 'creating the pod sandbox failed');
        return { retryAfterMs: 2000 };
      }
    }
    if (!sandboxId) return {};
    // Sidecars and regular containers start together in spec order; plain init containers one at a time.
    if (actions.nextInitContainer) {
      const r = await this.startContainer(pod, actions.nextInitContainer, status, sandboxId, sandboxConfig, runtimeHandler, podIPs, signal);
      if (r !== undefined) later(r);
    }
    for (const c of actions.containersToStart) {
      const r = await this.startContainer(pod, c, status, sandboxId, sandboxConfig, runtimeHandler, podIPs, signal);
      if (r !== undefined) later(r);
    }
    this.restartBackoff.gc();
    return retryAfterMs === undefined ? {} : { retryAfterMs };
  }

  /** Pulls the image as the pull policy says; undefined + waiting reason when it cannot. */
  private async ensureImage(pod: Readonly<Pod>, c: Readonly<Container>, sandbox: PodSandboxConfig, runtimeHandler: string): Promise<{ imageRef?: string; retryAfterMs?: number }> {
    const uid = pod.metadata!.uid!;
    const image = c.image ?? '';
    const spec = runtimeHandler ? { image, runtimeHandler } : { image };
    const policy = c.imagePullPolicy ?? (/:latest$|^[^:@]*$/.test(image.split('/').pop() ?? '') ? 'Always' : 'IfNotPresent');
    const present = await this.o.runtime.imageStatus(spec).catch(() => undefined);
    if (present && policy !== 'Always') {
      this.o.recorder.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
      return { imageRef: present.id };
    }
    if (policy === 'Never') {
      const message = `Container image "${image}" is not present with pull policy of Never`;
      this.setReason(uid, c.name, { reason: 'ErrImageNeverPull', message });
      this.o.recorder.event(pod, 'Warning', 'ErrImageNeverPull', message);
      return { retryAfterMs: 10_000 };
    }
    const key = `${uid}_${image}`;
    const last = this.lastPullFailure.get(key);
    if (last !== undefined && this.pullBackoff.isInBackOffSince(key, last)) {
      const message = `Back-off pulling image "${image}"`;
      this.setReason(uid, c.name, { reason: 'ImagePullBackOff', message });
      this.o.recorder.event(pod, 'Normal', 'BackOff', message);
      this.o.recorder.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      return { retryAfterMs: this.pullBackoff.remaining(key, last) + 50 };
    }
    this.o.recorder.event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const t0 = performance.now();
    try {
      const auth = await this.o.env.pullAuth(pod, image);
      const ref = await this.o.runtime.pullImage(spec, auth, sandbox);
      const secs = ((performance.now() - t0) / 1000).toFixed(3);
      const st = await this.o.runtime.imageStatus(spec).catch(() => undefined);
      this.o.recorder.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${secs}s (${secs}s including waiting). Image size: ${st ? st.size : 0} bytes.`);
      this.lastPullFailure.delete(key);
      return { imageRef: ref };
    } catch (err) {
      // As the kubelet sees a CRI error: the gRPC status code, then the runtime's words.
      const grpc = isRuntimeError(err, 'ImageNotFound') ? 'NotFound' : isRuntimeError(err, 'InvalidArgument') ? 'InvalidArgument' : 'Unknown';
      const detail = `rpc error: code = ${grpc} desc = ${(err as Error).message}`;
      const message = `Failed to pull image "${image}": ${detail}`;
      this.pullBackoff.next(key);
      this.lastPullFailure.set(key, Date.now());
      this.setReason(uid, c.name, { reason: 'ErrImagePull', message: detail });
      this.o.recorder.event(pod, 'Warning', 'Failed', message);
      this.o.recorder.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      return { retryAfterMs: this.pullBackoff.get(key) + 50 };
    }
  }

  private readonly lastPullFailure = new Map<string, number>();

  /** Starts one container; returns a retry delay when it could not (back-off, pull failure, config error). */
  private async startContainer(
    pod: Readonly<Pod>,
    c: Readonly<Container>,
    status: RuntimePodStatus,
    sandboxId: string,
    sandboxConfig: PodSandboxConfig,
    runtimeHandler: string,
    podIPs: string[],
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const uid = pod.metadata!.uid!;
    const previous = status.containers.find((x) => x.name === c.name);
    const restartCount = previous ? previous.restartCount + (previous.state === 'CONTAINER_CREATED' ? 0 : 1) : 0;
    if (previous?.state === 'CONTAINER_EXITED') {
      const key = `${pod.metadata!.name}_${pod.metadata!.namespace}_${uid}_${c.name}_${containerHash(c)}`;
      const finished = previous.finishedAt || Date.now();
      if (this.restartBackoff.isInBackOffSince(key, finished)) {
        const delay = this.restartBackoff.get(key);
        this.setReason(uid, c.name, { reason: 'CrashLoopBackOff', message: `back-off ${goDuration(delay)} restarting failed container=${c.name} pod=${pod.metadata!.name}_${pod.metadata!.namespace}(${uid})` });
        this.o.recorder.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata!.name}_${pod.metadata!.namespace}(${uid})`);
        return this.restartBackoff.remaining(key, finished) + 50;
      }
      this.restartBackoff.next(key, finished);
    }
    const t0 = performance.now();
    const phase = (what: string) => log.debug({ pod: podFullName(pod), container: c.name, ms: Math.round(performance.now() - t0) }, what);
    const img = await this.ensureImage(pod, c, sandboxConfig, runtimeHandler);
    if (!img.imageRef) return img.retryAfterMs;
    phase('start: image');
    let config: ContainerConfig;
    try {
      config = await this.containerConfig(pod, c, restartCount, podIPs, img.imageRef);
      if (runtimeHandler) config.image.runtimeHandler = runtimeHandler;
    } catch (err) {
      const reason = err instanceof SyncError ? err.reason : 'CreateContainerConfigError';
      this.setReason(uid, c.name, { reason, message: (err as Error).message });
      this.o.recorder.event(pod, 'Warning', 'Failed', `Error: ${(err as Error).message}`);
      return 2000;
    }
    let id: string;
    try {
      phase('start: config');
      id = await this.o.runtime.createContainer(sandboxId, config, sandboxConfig);
      phase('start: created');
    } catch (err) {
      const message = (err as Error).message;
      this.setReason(uid, c.name, { reason: 'CreateContainerError', message });
      this.o.recorder.event(pod, 'Warning', 'Failed', `Error: ${message}`);
      return 2000;
    }
    const hostPath = config.annotations[ANNOTATION_TERMINATION_MESSAGE_HOST_PATH];
    if (hostPath) this.termMessagePaths.set(id, hostPath);
    this.o.recorder.event(pod, 'Normal', 'Created', `Created container ${c.name}`);
    try {
      await this.o.runtime.startContainer(id);
      phase('start: started');
    } catch (err) {
      const message = (err as Error).message;
      this.setReason(uid, c.name, { reason: 'RunContainerError', message });
      this.o.recorder.event(pod, 'Warning', 'Failed', `Error: ${message}`);
      return 2000;
    }
    this.setReason(uid, c.name, undefined);
    this.o.recorder.event(pod, 'Normal', 'Started', `Started container ${c.name}`);
    const postStart = (c.lifecycle as Lifecycle | undefined)?.postStart;
    if (postStart) {
      const msg = await this.o.env.runHook(pod, c, id, postStart, 'PostStart', signal);
      if (msg !== undefined) {
        this.o.recorder.event(pod, 'Warning', 'FailedPostStartHook', msg);
        await this.killContainer(pod, c, id, `FailedPostStartHook`, undefined);
      }
    }
    return undefined;
  }

  async containerConfig(pod: Readonly<Pod>, c: Readonly<Container>, restartCount: number, podIPs: string[], imageRef: string): Promise<ContainerConfig> {
    const m = pod.metadata!;
    const envs = await this.o.env.env(pod, c, podIPs);
    const mounts = await this.o.env.mounts(pod, c, podIPs, envs);
    // The termination-log file lives in the pod dir and is mounted at terminationMessagePath.
    const termDir = join(this.o.podsDir, m.uid!, 'containers', c.name);
    await mkdir(termDir, { recursive: true });
    const termFile = join(termDir, `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`);
    await writeFile(termFile, '');
    const termPath = c.terminationMessagePath ?? '/dev/termination-log';
    mounts.push({ containerPath: termPath, hostPath: termFile, readonly: false });
    const { command, args } = expandContainerCommandAndArgs(c, envs);
    const sc = c.securityContext ?? {};
    const psc = pod.spec?.securityContext ?? {};
    return {
      metadata: { name: c.name, attempt: restartCount },
      image: { image: imageRef, annotations: {} },
      command,
      args,
      workingDir: c.workingDir ?? '',
      envs,
      mounts,
      devices: [],
      labels: { [LABEL_POD_NAME]: m.name!, [LABEL_POD_NAMESPACE]: m.namespace!, [LABEL_POD_UID]: m.uid!, [LABEL_CONTAINER_NAME]: c.name },
      annotations: {
        [ANNOTATION_CONTAINER_HASH]: containerHash(c),
        [ANNOTATION_RESTART_COUNT]: String(restartCount),
        [ANNOTATION_TERMINATION_MESSAGE_PATH]: termPath,
        [ANNOTATION_TERMINATION_MESSAGE_POLICY]: c.terminationMessagePolicy ?? 'File',
        [ANNOTATION_TERMINATION_GRACE]: String(pod.spec?.terminationGracePeriodSeconds ?? 30),
        [ANNOTATION_TERMINATION_MESSAGE_HOST_PATH]: termFile,
      },
      logPath: join(c.name, `${restartCount}.log`),
      stdin: c.stdin ?? false,
      stdinOnce: c.stdinOnce ?? false,
      tty: c.tty ?? false,
      linux: {
        resources: containerResources(pod, c, this.o.memoryCapacityBytes),
        securityContext: {
          ...(sc.privileged !== undefined ? { privileged: sc.privileged } : {}),
          ...((sc.runAsUser ?? psc.runAsUser) !== undefined ? { runAsUser: (sc.runAsUser ?? psc.runAsUser)! } : {}),
          ...((sc.runAsGroup ?? psc.runAsGroup) !== undefined ? { runAsGroup: (sc.runAsGroup ?? psc.runAsGroup)! } : {}),
          ...(psc.supplementalGroups ? { supplementalGroups: psc.supplementalGroups } : {}),
          ...(sc.readOnlyRootFilesystem !== undefined ? { readonlyRootfs: sc.readOnlyRootFilesystem } : {}),
          ...(sc.capabilities ? { capabilities: { addCapabilities: sc.capabilities.add ?? [], dropCapabilities: sc.capabilities.drop ?? [] } } : {}),
          ...(sc.allowPrivilegeEscalation === false ? { noNewPrivs: true } : {}),
          namespaceOptions: {
            network: isHostNetworkPod(pod) ? 'NODE' : 'POD',
            pid: pod.spec?.hostPID ? 'NODE' : pod.spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
            ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
          },
        },
      },
    };
  }

  /** The grace a kill gets: an override, else the pod's deletion grace, else its terminationGracePeriodSeconds (default 30). */
  static gracePeriod(pod: Readonly<Pod> | undefined, override: number | undefined): number {
    const g = override ?? pod?.metadata?.deletionGracePeriodSeconds ?? pod?.spec?.terminationGracePeriodSeconds ?? 30;
    return Math.max(g, MIN_GRACE_SECONDS);
  }

  /** preStop hook, then stop with the remaining grace. */
  async killContainer(pod: Readonly<Pod> | undefined, spec: Readonly<Container> | undefined, id: string, message: string | undefined, graceOverride: number | undefined): Promise<void> {
    let grace = KubeRuntimeManager.gracePeriod(pod, graceOverride);
    if (pod && spec) this.o.recorder.event(pod, 'Normal', 'Killing', message ?? `Stopping container ${spec.name}`);
    const preStop = (spec?.lifecycle as Lifecycle | undefined)?.preStop;
    if (pod && spec && preStop && grace > 0) {
      const t0 = Date.now();
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error('preStop hook timed out')), grace * 1000);
      try {
        const msg = await this.o.env.runHook(pod, spec, id, preStop, 'PreStop', ac.signal);
        if (msg !== undefined) this.o.recorder.event(pod, 'Warning', 'FailedPreStopHook', msg);
      } finally {
        clearTimeout(timer);
      }
      grace = Math.max(MIN_GRACE_SECONDS, grace - Math.ceil((Date.now() - t0) / 1000));
    }
    try {
      await this.o.runtime.stopContainer(id, grace);
    } catch (err) {
      if (!isRuntimeError(err, 'NotFound')) throw err;
    }
  }

  /** Stops every running container (with grace) and every sandbox of the pod. */
  async killPod(pod: Readonly<Pod> | undefined, status: RuntimePodStatus, graceOverride: number | undefined): Promise<void> {
    const specs = [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? [])];
    const running = status.containers.filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED');
    // Regular containers first, then sidecars (in reverse), as upstream's termination ordering.
    await Promise.all(
      running
        .filter((c) => !(pod?.spec?.initContainers ?? []).some((s) => s.name === c.name))
        .map((c) => this.killContainer(pod, specs.find((s) => s.name === c.name), c.id, undefined, graceOverride)),
    );
    for (const c of running.filter((c) => (pod?.spec?.initContainers ?? []).some((s) => s.name === c.name))) {
      await this.killContainer(pod, specs.find((s) => s.name === c.name), c.id, undefined, graceOverride);
    }
    for (const sb of status.sandboxes) {
      if (sb.state !== 'SANDBOX_READY') continue;
      await this.o.runtime.stopPodSandbox(sb.id).catch((err: unknown) => {
        if (!isRuntimeError(err, 'NotFound')) throw err;
      });
    }
  }

  /** Removes exited containers beyond the newest per name (kept for `logs --previous`) and every non-ready sandbox but the newest. */
  async garbageCollect(status: RuntimePodStatus, podGone: boolean): Promise<void> {
    const rt = this.o.runtime;
    const seen = new Map<string, number>();
    for (const c of status.containers) {
      const n = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, n);
      if (c.state === 'CONTAINER_RUNNING') continue;
      if (podGone || n > 2) {
        this.termMessagePaths.delete(c.id);
        await rt.removeContainer(c.id).catch(() => undefined);
      }
    }
    const notReady = status.sandboxes.filter((s) => s.state !== 'SANDBOX_READY');
    for (const [i, sb] of notReady.entries()) {
      if (podGone || i > 0 || status.sandboxes[0]?.id !== sb.id) await rt.removePodSandbox(sb.id).catch(() => undefined);
    }
  }
}
