// The kubelet: registers its node and keeps its status and Lease fresh, takes pods from the API
// (those bound to it) and from static manifests, and drives each through its pod worker: admit,
// volumes, sandbox and containers on the runtime, probes, status, graceful termination, and the
// final delete. A relist of the runtime every second (upstream's PLEG) notices exits and restarts.
import { mkdir, rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, NodeStatus, Pod, PodStatus, Taint } from 'kubernetes-types/core/v1.js';
import { milliValue, quantityValue } from '../api/quantity.js';
import { isAlreadyExists, isConflict, isNotFound } from '../client/apiError.js';
import { EventRecorder } from '../client/events.js';
import { SharedInformer } from '../client/informer.js';
import { microTime } from '../client/microTime.js';
import type { RestClient } from '../client/restClient.js';
import { logger } from '../util/log.js';
import { isMirrorPod, mirrorPodFor, StaticPodSource } from './config/staticPods.js';
import { conditionsRefusing, parseThresholds, type Observations, type PodUsage, type Signal } from './eviction/eviction.js';
import { EvictionManager } from './eviction/manager.js';
import { FAILED_TO_CREATE_POD_CONTAINER, PodContainerManager } from './cm/podContainerManager.js';
import { ImageGCManager } from './imageGC.js';
import { KubeRuntimeManager, type ContainerEnvironment } from './kuberuntime.js';
import { RuntimeClassManager } from './runtimeClass.js';
import { fsStats, memoryAvailableBytes, pidStats, readMachineInfo, type MachineInfo } from './machine.js';
import { initialNode, nodeAllocatable, nodeStatus, statusChanged, type ResourceList } from './nodeStatus.js';
import { generatePodStatus, isStaticPod, type RuntimePodStatus } from './podStatus.js';
import { PodWorkers } from './podWorkers.js';
import type { ContainerRuntime, Image } from './runtime/types.js';
import { mergePatchDiff, StatusManager } from './statusManager.js';

const log = logger('kubelet');

/** The parts of the kubelet that other modules implement (volumes, probes, env); the kubelet calls them per pod. */
export interface PodLifecycleHooks {
  /** Mounts/creates the pod's volumes; throws with a `FailedMount`-style message to keep the pod waiting. */
  setUpVolumes(pod: Readonly<Pod>, signal: AbortSignal): Promise<void>;
  tearDownVolumes(pod: Readonly<Pod>): Promise<void>;
  probesAdd(pod: Readonly<Pod>): void;
  probesRemove(pod: Readonly<Pod>): void;
  readiness(podUid: string, containerId: string): boolean | undefined;
  startup(podUid: string, containerId: string): boolean | undefined;
  livenessFailures(podUid: string): Set<string>;
  startupFailures(podUid: string): Set<string>;
}

export interface KubeletOptions {
  client: RestClient;
  nodeName: string;
  /** InternalIP of the node. */
  nodeIP: string;
  runtime: ContainerRuntime;
  /** `<dataDir>/agent`: kubelet/, logs/pods/ and pod-manifests/ live under it unless given. */
  rootDir: string;
  podsDir?: string;
  logRoot?: string;
  /** --pod-manifest-path; undefined = `<rootDir>/pod-manifests`; '' = no static pods. */
  podManifestPath?: string;
  maxPods?: number;
  kubeReserved?: ResourceList;
  systemReserved?: ResourceList;
  /** --pod-max-pids (podPidsLimit): processes a pod may have, set as pids.max on its cgroup; -1 (default) = no limit. */
  podPidsLimit?: number;
  /** --eviction-hard, e.g. `{ 'memory.available': '100Mi', 'nodefs.available': '10%' }` (upstream's defaults). */
  evictionHard?: ResourceList;
  controlPlane?: boolean;
  /** --cluster-dns and --cluster-domain. */
  clusterDNS?: string[];
  clusterDomain?: string;
  nodeLabels?: Record<string, string>;
  nodeAnnotations?: Record<string, string>;
  registerWithTaints?: Taint[];
  kubeletPort?: number;
  /** Builds env, mounts, DNS, hooks for containers; given the kubelet (for lookups). */
  environment: (k: Kubelet) => ContainerEnvironment;
  hooks: (k: Kubelet) => PodLifecycleHooks;
  /**
   * Called with the node's podCIDR(s) when they become known, before the runtime hears of them (and
   * so before the first pod sandbox on the pod network): the agent installs the node's masquerade here.
   * A failure is logged; the runtime is configured anyway.
   */
  onPodCIDRs?: (cidrs: string[]) => Promise<void>;
  /** Node status update period (upstream 10 s) and Lease renew interval (10 s). */
  nodeStatusUpdateMs?: number;
  leaseDurationSeconds?: number;
  relistMs?: number;
  /** --sync-frequency: how often every pod is synced even without a change (default 1 min). */
  syncFrequencyMs?: number;
  /** --eviction-pressure-transition-period (default 5 min) and the eviction monitoring interval (10 s). */
  pressureTransitionMs?: number;
  evictionMonitoringMs?: number;
}

const DEFAULT_EVICTION_HARD: ResourceList = { 'memory.available': '100Mi', 'nodefs.available': '10%', 'nodefs.inodesFree': '5%', 'imagefs.available': '15%' };

interface PodRecord {
  pod: Pod;
  /** Removed from its source (deleted from the API, manifest gone): terminate and forget. */
  removed: boolean;
  terminated: boolean;
  finalized: boolean;
  admitted?: boolean;
  /** Grace override for the kill (0 for node-pressure evictions). */
  killGrace?: number;
}

export class Kubelet {
  readonly nodeName: string;
  readonly recorder: EventRecorder;
  readonly runtimeManager: KubeRuntimeManager;
  readonly statusManager: StatusManager;
  readonly podsDir: string;
  readonly logRoot: string;
  machine!: MachineInfo;
  private runtimeName = 'unknown';
  private runtimeVersion = '';
  private readonly workers: PodWorkers;
  private readonly pods = new Map<string, PodRecord>();
  /** API pods by namespace/name, to find mirror pods. */
  private readonly apiPods = new Map<string, Pod>();
  private podInformer!: SharedInformer<Pod>;
  private nodeInformer!: SharedInformer<Node>;
  private staticSource: StaticPodSource | undefined;
  private readonly abort = new AbortController();
  private readonly runtimeClasses: RuntimeClassManager;
  readonly podContainers: PodContainerManager;
  private timers: NodeJS.Timeout[] = [];
  private lastNodeStatus: NodeStatus | undefined;
  private lastNodeReportAt = 0;
  private node: Node | undefined;
  private podCIDR: string | undefined;
  private runtimeNotReady: string | undefined = 'container runtime status check may not have completed yet';
  private pressure = { memory: false, disk: false, pid: false };
  private images: Image[] = [];
  /** Container id → its state and pod uid at the last relist. */
  private relistState = new Map<string, { state: string; uid: string }>();
  private hooks!: PodLifecycleHooks;
  private ready = false;

  constructor(readonly o: KubeletOptions) {
    this.nodeName = o.nodeName;
    this.podsDir = o.podsDir ?? join(o.rootDir, 'kubelet', 'pods');
    this.logRoot = o.logRoot ?? join(o.rootDir, 'logs', 'pods');
    this.recorder = new EventRecorder({ client: o.client, component: 'kubelet', host: o.nodeName });
    this.statusManager = new StatusManager({ client: o.client, apiPodFor: (p) => this.apiPodFor(p) });
    this.workers = new PodWorkers((uid) => this.syncPodWorker(uid));
    this.runtimeClasses = new RuntimeClassManager(o.client);
    this.podContainers = new PodContainerManager({ podPidsLimit: o.podPidsLimit ?? -1 });
    this.runtimeManager = undefined!;
    // Created in start() once the machine is known (needs its memory capacity).
  }

  get runtime(): ContainerRuntime {
    return this.o.runtime;
  }

  /** `k8ts-process`, `containerd`: container IDs in pod status are `<name>://<id>`. */
  get containerRuntimeName(): string {
    return this.runtimeName;
  }

  /** The pods this kubelet runs (API and static), as the kubelet API's /pods lists them. */
  listPods(): Pod[] {
    return [...this.pods.values()].filter((r) => !r.removed).map((r) => this.withStatus(r.pod));
  }

  findPod(namespace: string, name: string, uid?: string): Pod | undefined {
    for (const r of this.pods.values()) {
      const m = r.pod.metadata!;
      if (m.namespace === namespace && m.name === name && (!uid || m.uid === uid)) return this.withStatus(r.pod);
    }
    return undefined;
  }

  private withStatus(pod: Pod): Pod {
    const s = this.statusManager.get(pod.metadata!.uid!);
    return s ? { ...pod, status: s } : pod;
  }

  /** Syncs a pod soon (a probe result changed, a liveness probe failed). */
  requestSync(uid: string): void {
    if (this.pods.has(uid)) this.workers.enqueue(uid);
  }

  /** The id of the pod's ready sandbox (port-forward). */
  async podSandboxId(uid: string): Promise<string | undefined> {
    const sbs = await this.o.runtime.listPodSandbox({ labelSelector: { 'io.kubernetes.pod.uid': uid }, state: 'SANDBOX_READY' });
    return sbs[0]?.id;
  }

  getNode(): Readonly<Node> | undefined {
    return this.node;
  }

  nodeAllocatable(): ResourceList {
    return nodeAllocatable({
      machine: this.machine,
      maxPods: this.o.maxPods ?? 110,
      kubeReserved: this.o.kubeReserved ?? {},
      systemReserved: this.o.systemReserved ?? {},
      evictionHard: this.o.evictionHard ?? DEFAULT_EVICTION_HARD,
    });
  }

  isReady(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    await mkdir(this.podsDir, { recursive: true });
    await mkdir(this.logRoot, { recursive: true });
    this.machine = await readMachineInfo(this.o.rootDir);
    (this as { runtimeManager: KubeRuntimeManager }).runtimeManager = new KubeRuntimeManager({
      runtime: this.o.runtime,
      runtimeName: 'pending',
      clusterDomain: this.o.clusterDomain ?? 'cluster.local',
      recorder: this.recorder,
      logRoot: this.logRoot,
      podsDir: this.podsDir,
      env: this.o.environment(this),
      memoryCapacityBytes: this.machine.memoryCapacityBytes,
      runtimeHandler: (pod) => this.runtimeClasses.lookupRuntimeHandler(pod.spec?.runtimeClassName),
    });
    this.runtimeClasses.start(this.abort.signal);
    this.hooks = this.o.hooks(this);
    this.eviction = new EvictionManager({
      thresholds: parseThresholds(this.o.evictionHard ?? DEFAULT_EVICTION_HARD),
      observe: () => this.observe(),
      podUsages: (signal, pods) => this.podUsages(signal, pods),
      activePods: () => [...this.pods.values()].filter((r) => r.admitted && !r.terminated && !r.removed).map((r) => r.pod),
      evict: (pod, message) => this.evictPod(pod, message),
      ...(this.o.pressureTransitionMs !== undefined ? { pressureTransitionMs: this.o.pressureTransitionMs } : {}),
    });
    const v = await this.o.runtime.version();
    this.runtimeName = v.runtimeName;
    this.runtimeVersion = v.runtimeVersion;
    await this.checkRuntime();
    await this.registerNode();
    this.recorder.event(this.nodeRef(), 'Normal', 'Starting', 'Starting kubelet.');
    this.recorder.event(this.nodeRef(), 'Normal', 'NodeAllocatableEnforced', 'Updated Node Allocatable limit across pods');
    await this.updateNodeStatus(true);
    await this.renewLease();
    this.nodeInformer = new SharedInformer<Node>(this.o.client.resource<Node>('', 'v1', 'nodes'), { fieldSelector: `metadata.name=${this.nodeName}`, name: 'kubelet-node' });
    this.nodeInformer.addEventHandler({ onAdd: (n) => this.onNode(n), onUpdate: (_o, n) => this.onNode(n) });
    this.nodeInformer.start(this.abort.signal);
    this.podInformer = new SharedInformer<Pod>(this.o.client.resource<Pod>('', 'v1', 'pods'), {
      fieldSelector: `spec.nodeName=${this.nodeName}`,
      name: 'kubelet-pods',
      transform: (p) => {
        if (p.metadata?.managedFields) delete (p.metadata as { managedFields?: unknown }).managedFields;
        // List items carry no TypeMeta; events and owner references need it.
        (p as { kind?: string }).kind = 'Pod';
        (p as { apiVersion?: string }).apiVersion = 'v1';
        return p;
      },
    });
    this.podInformer.addEventHandler({
      onAdd: (p) => this.onApiPod(p as Pod),
      onUpdate: (_o, p) => this.onApiPod(p as Pod),
      onDelete: (p) => this.onApiPodDeleted(p as Pod),
    });
    this.podInformer.start(this.abort.signal);
    const manifests = this.o.podManifestPath ?? join(this.o.rootDir, 'pod-manifests');
    if (manifests) {
      await mkdir(manifests, { recursive: true });
      this.staticSource = new StaticPodSource(manifests, this.nodeName, (pods) => this.onStaticPods(pods));
      await this.staticSource.start();
    }
    const every = (ms: number, fn: () => Promise<void>) => {
      let busy = false;
      const t = setInterval(() => {
        if (busy) return;
        busy = true;
        fn()
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'periodic kubelet task failed'))
          .finally(() => (busy = false));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    const statusMs = this.o.nodeStatusUpdateMs ?? 10_000;
    every(statusMs, () => this.updateNodeStatus(false));
    every(statusMs, () => this.renewLease());
    every(this.o.relistMs ?? 1000, () => this.relist());
    every(10_000, async () => {
      this.statusManager.resync();
      await this.syncMirrorPods();
    });
    // Every pod is synced once a minute regardless (upstream's --sync-frequency); changes sync at once
    // through the pod informer, the relist and probe results, so this is only a safety net.
    every(this.o.syncFrequencyMs ?? 60_000, async () => {
      for (const uid of this.workers.uids()) this.workers.enqueue(uid);
    });
    every(10_000, () => this.housekeeping());
    every(5 * 60_000, () => this.garbageCollectImages());
    every(this.o.evictionMonitoringMs ?? 10_000, async () => {
      const evicted = await this.eviction.synchronize();
      const p = this.eviction.pressure();
      if (evicted || p.memory !== this.pressure.memory || p.disk !== this.pressure.disk || p.pid !== this.pressure.pid) await this.updateNodeStatus(false);
    });
    this.ready = true;
    log.info({ node: this.nodeName, runtime: `${this.runtimeName}://${this.runtimeVersion}`, ms: Math.round(performance.now() - t0) }, 'kubelet started');
  }

  private nodeRef() {
    return { kind: 'Node', apiVersion: 'v1', name: this.nodeName, uid: this.nodeName };
  }

  private async checkRuntime(): Promise<void> {
    try {
      const st = await this.o.runtime.status();
      const rt = st.conditions.find((c) => c.type === 'RuntimeReady');
      const net = st.conditions.find((c) => c.type === 'NetworkReady');
      if (!rt?.status) this.runtimeNotReady = `container runtime is down: RuntimeReady=false reason:${rt?.reason ?? ''} message:${rt?.message ?? ''}`;
      else if (!net?.status) this.runtimeNotReady = `container runtime network not ready: NetworkReady=false reason:${net?.reason ?? ''} message:${net?.message ?? ''}`;
      else this.runtimeNotReady = undefined;
      this.images = await this.o.runtime.listImages();
    } catch (err) {
      this.runtimeNotReady = `container runtime is down: ${(err as Error).message}`;
    }
  }

  private async registerNode(): Promise<void> {
    const nodes = this.o.client.resource<Node>('', 'v1', 'nodes');
    const want = initialNode({
      annotations: this.o.nodeAnnotations ?? {},
      nodeName: this.nodeName,
      architecture: this.machine.architecture,
      controlPlane: this.o.controlPlane ?? false,
      labels: this.o.nodeLabels ?? {},
      taints: this.o.registerWithTaints ?? [],
    });
    try {
      this.node = await nodes.create(want);
      log.info({ node: this.nodeName }, 'successfully registered node');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await nodes.get(undefined, this.nodeName);
      // Re-registration: keep what others set, refresh our labels.
      const labels = { ...(existing.metadata?.labels ?? {}), ...want.metadata!.labels };
      this.node = await nodes.patch(undefined, this.nodeName, { metadata: { labels, annotations: want.metadata!.annotations } }, { type: 'merge' });
    }
    this.lastNodeStatus = this.node.status;
    this.onNode(this.node);
  }

  private onNode(n: Readonly<Node>): void {
    this.node = n as Node;
    const cidr = n.spec?.podCIDR;
    if (cidr && cidr !== this.podCIDR) {
      this.podCIDR = cidr;
      const cidrs = n.spec?.podCIDRs?.length ? [...n.spec.podCIDRs] : [cidr];
      void Promise.resolve(this.o.onPodCIDRs?.(cidrs))
        .catch((err: unknown) => log.warn({ err: (err as Error).message, podCIDRs: cidrs }, 'setting up the node for its podCIDR failed'))
        .then(() => this.o.runtime.updateRuntimeConfig({ podCIDR: cidr }))
        .then(() => this.checkRuntime())
        .then(() => this.updateNodeStatus(false))
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'updating the runtime config failed'));
    }
  }

  private eviction!: EvictionManager;
  private readonly imageGC = new ImageGCManager();

  /** Image GC (every 5 min as upstream): unused images go, least recently used first, when the image filesystem is fuller than 85%. */
  private async garbageCollectImages(): Promise<void> {
    const images = await this.o.runtime.listImages();
    const containers = await this.o.runtime.listContainers();
    const inUse = new Set<string>(containers.map((c) => c.imageRef).filter(Boolean));
    for (const c of containers) {
      const img = images.find((i) => i.id === c.imageRef || i.repoTags.includes(c.image.image));
      if (img) inUse.add(img.id);
    }
    this.imageGC.observe(images, inUse);
    const fs = await fsStats(this.o.rootDir);
    const victims = this.imageGC.plan(inUse, fs.capacityBytes - fs.availableBytes, fs.capacityBytes);
    for (const img of victims) {
      await this.o.runtime.removeImage({ image: img.id }).catch((err: unknown) => log.warn({ image: img.id, err: (err as Error).message }, 'removing an unused image failed'));
      log.info({ image: img.repoTags[0] ?? img.id, bytes: Number(img.size) }, 'removed an unused image (image filesystem above the high threshold)');
    }
  }

  private async observe(): Promise<Observations> {
    const mem = await memoryAvailableBytes(this.machine.memoryCapacityBytes);
    const fs = await fsStats(this.o.rootDir);
    const pids = await pidStats();
    return {
      'memory.available': { available: mem, capacity: this.machine.memoryCapacityBytes },
      'nodefs.available': { available: fs.availableBytes, capacity: fs.capacityBytes },
      'nodefs.inodesFree': { available: fs.inodesFree, capacity: fs.inodes },
      'imagefs.available': { available: fs.availableBytes, capacity: fs.capacityBytes },
      'pid.available': { available: pids.max - pids.running, capacity: pids.max },
    };
  }

  private async podUsages(signal: Signal, pods: readonly Pod[]): Promise<PodUsage[]> {
    const stats = (await this.o.runtime.listContainerStats?.().catch(() => [])) ?? [];
    // Processes are counted per pod (its cgroup's pids.current), as upstream's pod ProcessStats.
    if (signal === 'pid.available') return pods.map((pod) => ({ pod, containers: {}, total: this.podContainers.pidsCurrent(pod) ?? 0 }));
    return pods.map((pod) => {
      const containers: Record<string, number> = {};
      for (const s of stats) {
        if (s.attributes.labels['io.kubernetes.pod.uid'] !== pod.metadata!.uid) continue;
        const name = s.attributes.metadata.name;
        const v = signal === 'memory.available' ? s.memory?.workingSetBytes : s.writableLayer?.usedBytes;
        if (v !== undefined) containers[name] = (containers[name] ?? 0) + Number(v);
      }
      return { pod, containers };
    });
  }

  /** Node-pressure eviction: the pod fails with reason Evicted and is killed without grace. */
  async evictPod(pod: Readonly<Pod>, message: string): Promise<void> {
    const uid = pod.metadata!.uid!;
    const rec = this.pods.get(uid);
    if (!rec) return;
    const cur = this.statusManager.get(uid) ?? pod.status ?? {};
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const conditions = (cur.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget');
    conditions.push({ type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message, lastTransitionTime: now });
    this.recorder.event(pod, 'Warning', 'Evicted', message);
    rec.killGrace = 0;
    this.statusManager.set(pod, { ...cur, phase: 'Failed', reason: 'Evicted', message, conditions });
    this.workers.enqueue(uid);
  }

  private readPressure(): void {
    const next = this.eviction.pressure();
    for (const [k, reason] of [
      ['memory', 'NodeHasInsufficientMemory'],
      ['disk', 'NodeHasDiskPressure'],
      ['pid', 'NodeHasInsufficientPID'],
    ] as const) {
      if (next[k] !== this.pressure[k]) {
        const okReason = { memory: 'NodeHasSufficientMemory', disk: 'NodeHasNoDiskPressure', pid: 'NodeHasSufficientPID' }[k];
        const r = next[k] ? reason : okReason;
        this.recorder.event(this.nodeRef(), 'Normal', r, `Node ${this.nodeName} status is now: ${r}`);
      }
    }
    this.pressure = next;
  }

  async updateNodeStatus(force: boolean): Promise<void> {
    await this.checkRuntime();
    this.readPressure();
    const wasReady = this.lastNodeStatus?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    const next = nodeStatus(this.lastNodeStatus, {
      machine: this.machine,
      maxPods: this.o.maxPods ?? 110,
      kubeReserved: this.o.kubeReserved ?? {},
      systemReserved: this.o.systemReserved ?? {},
      evictionHard: this.o.evictionHard ?? DEFAULT_EVICTION_HARD,
      nodeIP: this.o.nodeIP,
      hostname: osHostname().toLowerCase(),
      kubeletPort: this.o.kubeletPort ?? 10250,
      containerRuntimeVersion: `${this.runtimeName}://${this.runtimeVersion}`,
      runtimeNotReady: this.runtimeNotReady,
      pressure: this.pressure,
      images: this.images,
      now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    const changed = statusChanged(this.lastNodeStatus, next);
    if (!force && !changed && Date.now() - this.lastNodeReportAt < 5 * 60_000) return;
    const diff = mergePatchDiff((this.node?.status ?? {}) as never, JSON.parse(JSON.stringify(next)));
    if (diff !== undefined) {
      this.node = await this.o.client.resource<Node>('', 'v1', 'nodes').patch(undefined, this.nodeName, { status: diff }, { type: 'merge', subresource: 'status' });
    }
    this.lastNodeStatus = next;
    this.lastNodeReportAt = Date.now();
    const isReady = next.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (isReady && !wasReady) this.recorder.event(this.nodeRef(), 'Normal', 'NodeReady', `Node ${this.nodeName} status is now: NodeReady`);
    if (!isReady && wasReady) this.recorder.event(this.nodeRef(), 'Normal', 'NodeNotReady', `Node ${this.nodeName} status is now: NodeNotReady`);
  }

  private async renewLease(): Promise<void> {
    const leases = this.o.client.resource<Lease>('coordination.k8s.io', 'v1', 'leases');
    const now = microTime(Date.now());
    const duration = this.o.leaseDurationSeconds ?? 40;
    const owner = this.node?.metadata?.uid ? [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.node.metadata.uid }] : undefined;
    try {
      const cur = await leases.get('kube-node-lease', this.nodeName);
      cur.spec = { ...cur.spec, holderIdentity: this.nodeName, leaseDurationSeconds: duration, renewTime: now };
      if (owner && !cur.metadata?.ownerReferences?.length) cur.metadata = { ...cur.metadata, ownerReferences: owner };
      await leases.update(cur);
    } catch (err) {
      if (isConflict(err)) return;
      if (!isNotFound(err)) throw err;
      await leases
        .create({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.nodeName, namespace: 'kube-node-lease', ...(owner ? { ownerReferences: owner } : {}) },
          spec: { holderIdentity: this.nodeName, leaseDurationSeconds: duration, renewTime: now },
        })
        .catch((e: unknown) => {
          if (!isAlreadyExists(e)) throw e;
        });
    }
  }

  // ----- pod sources -----

  private onApiPod(pod: Pod): void {
    this.apiPods.set(`${pod.metadata!.namespace}/${pod.metadata!.name}`, pod);
    if (isMirrorPod(pod)) {
      // A mirror pod only reflects a static pod; deleting it makes the kubelet recreate it.
      if (pod.metadata?.deletionTimestamp) void this.syncMirrorPods();
      return;
    }
    const uid = pod.metadata!.uid!;
    const rec = this.pods.get(uid);
    if (rec) rec.pod = pod;
    else this.pods.set(uid, { pod, removed: false, terminated: false, finalized: false });
    this.workers.enqueue(uid);
  }

  private onApiPodDeleted(pod: Pod): void {
    const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    if (this.apiPods.get(key)?.metadata?.uid === pod.metadata?.uid) this.apiPods.delete(key);
    if (isMirrorPod(pod)) {
      void this.syncMirrorPods();
      return;
    }
    const rec = this.pods.get(pod.metadata!.uid!);
    if (!rec) return;
    rec.removed = true;
    this.workers.enqueue(pod.metadata!.uid!);
  }

  private onStaticPods(pods: Pod[]): void {
    const uids = new Set(pods.map((p) => p.metadata!.uid!));
    for (const [uid, rec] of this.pods) {
      if (isStaticPod(rec.pod) && !uids.has(uid)) {
        rec.removed = true;
        this.workers.enqueue(uid);
      }
    }
    for (const p of pods) {
      const uid = p.metadata!.uid!;
      const rec = this.pods.get(uid);
      if (rec) continue;
      this.pods.set(uid, { pod: p, removed: false, terminated: false, finalized: false, admitted: true });
      this.workers.enqueue(uid);
    }
    void this.syncMirrorPods();
  }

  /** The API pod whose status reflects `pod`: itself, or a static pod's mirror. */
  private apiPodFor(pod: Readonly<Pod>): Readonly<Pod> | undefined {
    if (!isStaticPod(pod)) return this.apiPods.get(`${pod.metadata!.namespace}/${pod.metadata!.name}`) ?? pod;
    const mirror = this.apiPods.get(`${pod.metadata!.namespace}/${pod.metadata!.name}`);
    return mirror && isMirrorPod(mirror) && !mirror.metadata?.deletionTimestamp ? mirror : undefined;
  }

  private mirrorSync: Promise<void> | undefined;

  /** Creates missing mirror pods, replaces stale ones, deletes orphans (podManager + mirror client). */
  syncMirrorPods(): Promise<void> {
    this.mirrorSync ??= this.syncMirrorPodsOnce().finally(() => (this.mirrorSync = undefined));
    return this.mirrorSync;
  }

  private async syncMirrorPodsOnce(): Promise<void> {
    if (!this.node?.metadata?.uid) return;
    const client = this.o.client.resource<Pod>('', 'v1', 'pods');
    const statics = [...this.pods.values()].filter((r) => isStaticPod(r.pod) && !r.removed).map((r) => r.pod);
    const wanted = new Map(statics.map((p) => [`${p.metadata!.namespace}/${p.metadata!.name}`, p]));
    for (const [key, p] of wanted) {
      const mirror = this.apiPods.get(key);
      const hash = p.metadata!.annotations!['kubernetes.io/config.hash'];
      if (mirror && isMirrorPod(mirror) && mirror.metadata!.annotations!['kubernetes.io/config.mirror'] === hash && !mirror.metadata?.deletionTimestamp) continue;
      try {
        // A stale mirror, or one a user deleted (gracefully): remove it for good, then mirror again.
        if (mirror) await client.delete(mirror.metadata!.namespace, mirror.metadata!.name!, { gracePeriodSeconds: 0, preconditions: { uid: mirror.metadata!.uid! } });
        const created = await client.create(mirrorPodFor(p, { name: this.nodeName, uid: this.node.metadata.uid }));
        this.apiPods.set(key, created);
        this.statusManager.resync();
      } catch (err) {
        if (!isAlreadyExists(err) && !isNotFound(err) && !isConflict(err)) log.warn({ pod: key, err: (err as Error).message }, 'syncing the mirror pod failed');
      }
    }
    for (const [key, m] of this.apiPods) {
      if (!isMirrorPod(m) || wanted.has(key) || m.spec?.nodeName !== this.nodeName) continue;
      await client.delete(m.metadata!.namespace, m.metadata!.name!, { gracePeriodSeconds: 0, preconditions: { uid: m.metadata!.uid! } }).catch(() => undefined);
      this.apiPods.delete(key);
    }
  }

  // ----- pod sync -----

  /** Node-level admission (canAdmitPod): pod count and resources against allocatable. */
  private admit(pod: Readonly<Pod>): { ok: true } | { ok: false; reason: string; message: string } {
    const pressure = conditionsRefusing(this.eviction.pressure(), pod);
    if (pressure) return { ok: false, reason: 'Evicted', message: `The node had condition: [${pressure.join(' ')}]. ` };
    const alloc = this.nodeAllocatable();
    const active = [...this.pods.values()].filter((r) => r.admitted && !r.terminated && !r.removed && r.pod.metadata!.uid !== pod.metadata!.uid);
    if (active.length + 1 > Number(alloc.pods)) return { ok: false, reason: 'OutOfpods', message: `Node didn't have enough resource: pods, requested: 1, used: ${active.length}, capacity: ${alloc.pods}` };
    const req = (p: Readonly<Pod>, r: 'cpu' | 'memory') =>
      (p.spec?.containers ?? []).reduce((s, c) => s + (r === 'cpu' ? milliValue(c.resources?.requests?.cpu ?? '0') : quantityValue(c.resources?.requests?.memory ?? '0')), 0);
    for (const r of ['cpu', 'memory'] as const) {
      const want = req(pod, r);
      if (!want) continue;
      const used = active.reduce((s, a) => s + req(a.pod, r), 0);
      const cap = r === 'cpu' ? milliValue(alloc.cpu) : quantityValue(alloc.memory);
      if (used + want > cap) return { ok: false, reason: `OutOf${r}`, message: `Node didn't have enough resource: ${r}, requested: ${want}, used: ${used}, capacity: ${cap}` };
    }
    return { ok: true };
  }

  private isTerminalPhase(pod: Readonly<Pod>): boolean {
    const ph = this.statusManager.get(pod.metadata!.uid!)?.phase ?? pod.status?.phase;
    return ph === 'Succeeded' || ph === 'Failed';
  }

  private async syncPodWorker(uid: string): Promise<number | undefined> {
    const rec = this.pods.get(uid);
    if (!rec) {
      this.workers.forget(uid);
      return undefined;
    }
    const pod = rec.pod;
    if (rec.removed || pod.metadata?.deletionTimestamp || this.isTerminalPhase(pod)) {
      await this.terminatePod(uid, rec);
      return undefined;
    }
    if (rec.admitted === undefined) {
      const a = this.admit(pod);
      if (!a.ok) {
        rec.admitted = false;
        this.recorder.event(pod, 'Warning', a.reason, a.message);
        this.statusManager.set(pod, { ...(pod.status ?? {}), phase: 'Failed', reason: a.reason, message: `Pod was rejected: ${a.message}` });
        rec.terminated = true;
        return undefined;
      }
      rec.admitted = true;
    }
    if (!rec.admitted) return undefined;
    const t0 = performance.now();
    const phase = (what: string) => log.debug({ pod: `${pod.metadata!.namespace}/${pod.metadata!.name}`, ms: Math.round(performance.now() - t0) }, what);
    await mkdir(join(this.podsDir, uid), { recursive: true });
    try {
      await this.hooks.setUpVolumes(pod, this.abort.signal);
      phase('sync: volumes');
    } catch (err) {
      const message = (err as Error).message;
      this.recorder.event(pod, 'Warning', 'FailedMount', message);
      await this.reportStatus(pod, await this.runtimeManager.getPodStatus(uid), false);
      return 2000;
    }
    try {
      this.podContainers.ensureExists(pod);
    } catch (err) {
      this.recorder.event(pod, 'Warning', FAILED_TO_CREATE_POD_CONTAINER, `unable to ensure pod container exists: ${(err as Error).message}`);
      log.warn({ pod: `${pod.metadata!.namespace}/${pod.metadata!.name}`, err: (err as Error).message }, 'failed to ensure that the pod cgroups exist and are correctly applied');
      return 2000;
    }
    this.hooks.probesAdd(pod);
    const before = await this.runtimeManager.getPodStatus(uid);
    phase('sync: runtime status');
    const result = await this.runtimeManager.syncPod(pod, before, { liveness: this.hooks.livenessFailures(uid), startup: this.hooks.startupFailures(uid) }, this.abort.signal);
    phase('sync: runtime sync');
    const after = await this.runtimeManager.getPodStatus(uid);
    await this.reportStatus(pod, after, false);
    phase('sync: status');
    return result.retryAfterMs;
  }

  private async reportStatus(pod: Readonly<Pod>, runtime: RuntimePodStatus, terminal: boolean): Promise<PodStatus> {
    const uid = pod.metadata!.uid!;
    const msgs = new Map<string, string | undefined>();
    for (const c of runtime.containers) if (c.state === 'CONTAINER_EXITED') msgs.set(c.id, await this.runtimeManager.terminationMessage(c, pod));
    const status = generatePodStatus({
      pod,
      runtime,
      oldStatus: this.statusManager.get(uid) ?? pod.status ?? {},
      runtimeName: this.runtimeName,
      waitingReason: (name) => this.runtimeManager.waitingReason(uid, name),
      readiness: (id) => this.hooks.readiness(uid, id),
      startup: (id) => this.hooks.startup(uid, id),
      terminationMessage: (c) => msgs.get(c.id),
      podIsTerminal: terminal,
      hostIPs: [this.o.nodeIP],
      now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    this.statusManager.set(pod, status);
    return status;
  }

  /** Kills the pod's containers with grace, reports the final status, cleans up, and finishes an API deletion. */
  private async terminatePod(uid: string, rec: PodRecord): Promise<void> {
    const pod = rec.pod;
    if (!rec.terminated) {
      const status = await this.runtimeManager.getPodStatus(uid);
      const grace = rec.removed && !pod.metadata?.deletionTimestamp && !isStaticPod(pod) ? 0 : undefined;
      await this.runtimeManager.killPod(pod, status, rec.killGrace ?? grace);
      this.hooks.probesRemove(pod);
      const after = await this.runtimeManager.getPodStatus(uid);
      if (!rec.removed || isStaticPod(pod)) await this.reportStatus(pod, after, true);
      await this.hooks.tearDownVolumes(pod).catch((err: unknown) => log.warn({ uid, err: (err as Error).message }, 'tearing down volumes failed'));
      rec.terminated = true;
    }
    if (pod.metadata?.deletionTimestamp && !rec.finalized && !isStaticPod(pod)) {
      await this.statusManager.finalizeDeletion(pod);
      rec.finalized = true;
    }
    if (rec.removed) {
      const status = await this.runtimeManager.getPodStatus(uid);
      await this.runtimeManager.garbageCollect(status, true);
      this.podContainers.destroy(pod);
      await rm(join(this.podsDir, uid), { recursive: true, force: true }).catch(() => undefined);
      this.pods.delete(uid);
      this.statusManager.forget(uid);
      this.runtimeManager.forgetPod(uid);
      this.workers.forget(uid);
      if (isStaticPod(pod)) void this.syncMirrorPods();
    }
  }

  /** PLEG: every relist, pods whose containers changed state get a sync. Unknown pods (left from before a restart, or force-deleted) are killed. */
  private async relist(): Promise<void> {
    const containers = await this.o.runtime.listContainers();
    const next = new Map<string, { state: string; uid: string }>();
    const changed = new Set<string>();
    for (const c of containers) {
      const uid = c.labels['io.kubernetes.pod.uid'];
      if (!uid) continue;
      next.set(c.id, { state: c.state, uid });
      const before = this.relistState.get(c.id);
      if (before?.state !== c.state) {
        changed.add(uid);
        if (!before) await this.runtimeManager.learnContainer(c.id);
      }
    }
    // A container that vanished (removed behind the kubelet's back) changes its pod too.
    for (const [id, before] of this.relistState) if (!next.has(id)) changed.add(before.uid);
    this.relistState = next;
    for (const uid of changed) if (this.pods.has(uid)) this.workers.enqueue(uid);
  }

  /** Cleans up what belongs to no known pod (HandlePodCleanups), once the sources have synced. */
  private async housekeeping(): Promise<void> {
    if (!this.podInformer.hasSynced()) return;
    const sandboxes = await this.o.runtime.listPodSandbox();
    const orphans = new Set<string>();
    for (const sb of sandboxes) if (!this.pods.has(sb.metadata.uid)) orphans.add(sb.metadata.uid);
    for (const uid of orphans) {
      const status = await this.runtimeManager.getPodStatus(uid);
      log.info({ uid }, 'killing and removing a pod the kubelet no longer knows');
      await this.runtimeManager.killPod(undefined, status, 0).catch(() => undefined);
      await this.runtimeManager.garbageCollect(await this.runtimeManager.getPodStatus(uid), true).catch(() => undefined);
    }
    for (const [uid, rec] of this.pods) {
      if (rec.terminated) continue;
      const status = await this.runtimeManager.getPodStatus(uid);
      await this.runtimeManager.garbageCollect(status, false).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('kubelet stopping'));
    for (const t of this.timers) clearInterval(t);
    this.staticSource?.stop();
    this.workers.stop();
    // Like upstream, stopping does not wait for pods being killed: their containers outlive the kubelet.
    await Promise.race([this.workers.idle(), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.statusManager.stop();
    this.recorder.shutdown();
  }
}
