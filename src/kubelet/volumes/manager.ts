// The kubelet's volume manager: sets up every volume of a pod under
// `<podsDir>/<uid>/volumes/<plugin dir>/<volume>` as upstream lays them out, keeps API-backed
// volumes (configMap, secret, downwardAPI, projected with its ServiceAccount token) current by
// periodic resync, and tears them down again. Upstream's operation executor, desired/actual state
// of world and plugin registry collapse into one idempotent setUpPod per pod here: the kubelet
// calls it on every pod sync, as upstream's reconciler remounts these volumes on every sync.
import { promises as fs } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type {
  ConfigMap,
  Container,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  ProjectedVolumeSource,
  Secret,
  Volume,
} from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../../client/apiError.js';
import { realClock, sleep, type Clock } from '../../client/clock.js';
import type { RestClient } from '../../client/restClient.js';
import { quantityValue } from '../../api/quantity.js';
import { logger } from '../../util/log.js';
import { writeAtomically, type Payload, type WriteOptions } from './atomicWriter.js';
import { setVolumeOwnership } from './ownership.js';
import { checkHostPathType } from './hostPath.js';
import { bindMount, isMountPoint, mountPointsUnder, mountTmpfs, unmountAll } from './mounts.js';
import { aggregateMessage, configMapPayload, DEFAULT_MODE, downwardAPIPayload, secretPayload, type NodeAllocatable } from './payload.js';
import { ServiceAccountTokenManager } from './tokenManager.js';
import { VolumeError, type PodVolume, type PodVolumes } from './types.js';

const log = logger('volume-manager');

const ANN_PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
const LOCAL_PATH_PROVISIONER = 'rancher.io/local-path';

/** Upstream plugin names and the directory names they get under a pod's `volumes/` (`/` → `~`). */
export const PLUGINS = {
  emptyDir: 'kubernetes.io/empty-dir',
  configMap: 'kubernetes.io/configmap',
  secret: 'kubernetes.io/secret',
  downwardAPI: 'kubernetes.io/downward-api',
  projected: 'kubernetes.io/projected',
  hostPath: 'kubernetes.io/host-path',
  local: 'kubernetes.io/local-volume',
} as const;

export const pluginDirName = (plugin: string): string => plugin.replace(/\//g, '~');

export interface VolumeManagerOptions {
  client: RestClient;
  nodeName: string;
  /** `<dataDir>/agent/kubelet/pods` (upstream `/var/lib/kubelet/pods`). */
  podsDir: string;
  /** How often API-backed volumes of set-up pods are refreshed (upstream's 1 min pod sync). Default 60 s. */
  resyncPeriodMs?: number;
  /** Node allocatable (`cpu`, `memory`, `ephemeral-storage` quantities): sizes memory-backed volumes, defaults downward API limits. */
  nodeAllocatable?: () => NodeAllocatable;
  /**
   * Secret, downwardAPI and projected volumes on tmpfs as upstream (default true). False writes them
   * to disk, for nodes that cannot mount (not root); emptyDir `medium: Memory` still needs tmpfs.
   */
  memoryBackedVolumes?: boolean;
  /** A shared token manager (the kubelet may use the same for other clients); created when omitted. */
  tokenManager?: ServiceAccountTokenManager;
  clock?: Clock;
  /** Called with failures of the periodic resync, so the kubelet can record FailedMount events. */
  onResyncError?(pod: Readonly<Pod>, err: VolumeError): void;
}

/** Per pod: its latest spec and the volumes set up for it. */
interface TrackedPod {
  pod: Readonly<Pod>;
  volumes: Map<string, PodVolume>;
}

export class VolumeManager {
  readonly tokens: ServiceAccountTokenManager;
  private readonly pods = new Map<string, TrackedPod>();
  /** ConfigMaps and Secrets read in the last second, shared by all pods (see ApiObjectCache). */
  private readonly apiObjects = new ApiObjectCache(API_OBJECT_TTL_MS);
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly clock: Clock;
  private readonly resyncPeriodMs: number;
  private readonly memoryBacked: boolean;

  constructor(private readonly opts: VolumeManagerOptions) {
    this.clock = opts.clock ?? realClock;
    this.tokens = opts.tokenManager ?? new ServiceAccountTokenManager({ client: opts.client, clock: this.clock });
    this.resyncPeriodMs = opts.resyncPeriodMs ?? 60_000;
    this.memoryBacked = opts.memoryBackedVolumes ?? true;
  }

  /** `<podsDir>/<uid>/volumes`. */
  podVolumesDir(uid: string): string {
    return join(this.opts.podsDir, uid, 'volumes');
  }

  /** `<podsDir>/<uid>/volumes/<plugin dir>/<name>`. */
  volumeDir(uid: string, plugin: string, name: string): string {
    return join(this.podVolumesDir(uid), pluginDirName(plugin), name);
  }

  /**
   * Sets up (or refreshes) every volume of `pod`; idempotent, so the kubelet calls it on each pod
   * sync. Throws VolumeError for the first volume that fails (the others stay as they are).
   */
  async setUpPod(pod: Readonly<Pod>, signal?: AbortSignal): Promise<PodVolumes> {
    const uid = podUid(pod);
    return this.serialized(uid, async () => {
      const tracked = this.pods.get(uid) ?? { pod, volumes: new Map<string, PodVolume>() };
      tracked.pod = pod;
      this.pods.set(uid, tracked);
      const ctx = new SetUpContext(this.opts.client, pod, signal, this.apiObjects);
      for (const vol of pod.spec?.volumes ?? []) {
        signal?.throwIfAborted();
        tracked.volumes.set(vol.name, await this.setUpVolume(ctx, vol));
      }
      return new Map(tracked.volumes);
    });
  }

  /**
   * Rewrites the API-backed volumes (configMap, secret, downwardAPI, projected) of a set-up pod from
   * current API data; a no-op for pods never set up. Changed contents are swapped in atomically.
   */
  async resyncPod(pod: Readonly<Pod>, signal?: AbortSignal): Promise<void> {
    const uid = podUid(pod);
    await this.serialized(uid, async () => {
      const tracked = this.pods.get(uid);
      if (!tracked) return;
      tracked.pod = pod;
      const ctx = new SetUpContext(this.opts.client, pod, signal, this.apiObjects);
      for (const vol of pod.spec?.volumes ?? []) {
        if (vol.configMap || vol.secret || vol.downwardAPI || vol.projected) tracked.volumes.set(vol.name, await this.setUpVolume(ctx, vol));
      }
    });
  }

  /**
   * UIDs of pods with a volumes directory on disk that are not in `active`: after a kubelet restart,
   * the pods whose volumes still need tearDownPod (upstream cleanupOrphanedPodDirs).
   */
  async orphanedPodUids(active: ReadonlySet<string>): Promise<string[]> {
    const uids = await fs.readdir(this.opts.podsDir).catch(() => [] as string[]);
    const out: string[] = [];
    for (const uid of uids) {
      if (active.has(uid)) continue;
      if (await fs.stat(this.podVolumesDir(uid)).then(() => true, () => false)) out.push(uid);
    }
    return out;
  }

  /** Every pod set up and not torn down, with its latest spec. */
  trackedPods(): Readonly<Pod>[] {
    return [...this.pods.values()].map((t) => t.pod);
  }

  /** Resyncs every set-up pod each resyncPeriodMs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await sleep(this.resyncPeriodMs, signal, this.clock);
      } catch {
        return;
      }
      for (const pod of this.trackedPods()) {
        if (signal.aborted) return;
        try {
          await this.resyncPod(pod, signal);
        } catch (err) {
          if (signal.aborted) return;
          if (err instanceof VolumeError) this.opts.onResyncError?.(pod, err);
          log.warn({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, err: err instanceof Error ? err.message : String(err) }, 'volume resync failed');
        }
      }
    }
  }

  /**
   * Unmounts and removes `<podsDir>/<uid>/volumes`. Never follows hostPath volumes or PV data: those
   * are either outside the pod dir or bind mounts that are unmounted first, and nothing is removed
   * while any mount below the pod's volumes remains.
   */
  async tearDownPod(uid: string): Promise<void> {
    await this.serialized(uid, async () => {
      const dir = this.podVolumesDir(uid);
      await unmountAll(dir);
      const left = await mountPointsUnder(dir);
      if (left.length) throw new Error(`UnmountVolume.TearDown failed for pod ${uid}: still mounted: ${left.join(', ')}`);
      await fs.rm(dir, { recursive: true, force: true });
      this.pods.delete(uid);
      this.tokens.deletePodTokens(uid);
    });
  }

  private async serialized<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(uid) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(uid, settled);
    void settled.then(() => {
      if (this.locks.get(uid) === settled) this.locks.delete(uid);
    });
    return next;
  }

  private async setUpVolume(ctx: SetUpContext, vol: Volume): Promise<PodVolume> {
    try {
      return await this.setUpVolumeUnwrapped(ctx, vol);
    } catch (err) {
      if (err instanceof VolumeError) throw err;
      if (ctx.signal?.aborted) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      throw new VolumeError(vol.name, `MountVolume.SetUp failed for volume "${vol.name}" : ${msg}`, { cause: err });
    }
  }

  private async setUpVolumeUnwrapped(ctx: SetUpContext, vol: Volume): Promise<PodVolume> {
    const uid = podUid(ctx.pod);
    if (vol.hostPath) {
      await checkHostPathType(vol.hostPath.path, vol.hostPath.type);
      return { hostPath: vol.hostPath.path, readOnly: false, plugin: PLUGINS.hostPath };
    }
    if (vol.emptyDir) {
      const dir = this.volumeDir(uid, PLUGINS.emptyDir, vol.name);
      const medium = vol.emptyDir.medium ?? '';
      if (medium === 'Memory') await this.tmpfsDir(ctx, dir, vol.emptyDir.sizeLimit);
      else if (medium === '') await makeDir(dir, 0o777);
      else throw new Error(`unsupported medium: ${medium}`);
      // Ownership once per volume and process: emptyDirs can be large, and only the pod writes them.
      if (!this.pods.get(uid)?.volumes.has(vol.name)) await setVolumeOwnership(dir, ctx.fsGroup, false, ctx.fsGroupChangePolicy);
      return { hostPath: dir, readOnly: false, plugin: PLUGINS.emptyDir };
    }
    if (vol.configMap) {
      const src = vol.configMap;
      const optional = src.optional === true;
      const cm = (await ctx.configMap(src.name ?? '', optional)) ?? {};
      const dir = this.volumeDir(uid, PLUGINS.configMap, vol.name);
      await makeDir(dir, 0o777);
      await writeAtomically(dir, configMapPayload(src.items, cm, src.defaultMode ?? DEFAULT_MODE, optional), ctx.ownership(dir));
      return { hostPath: dir, readOnly: true, plugin: PLUGINS.configMap };
    }
    if (vol.secret) {
      const src = vol.secret;
      const optional = src.optional === true;
      const secret = (await ctx.secret(src.secretName ?? '', optional)) ?? {};
      const dir = this.volumeDir(uid, PLUGINS.secret, vol.name);
      await this.apiDataDir(ctx, dir);
      await writeAtomically(dir, secretPayload(src.items, secret, src.defaultMode ?? DEFAULT_MODE, optional), ctx.ownership(dir));
      return { hostPath: dir, readOnly: true, plugin: PLUGINS.secret };
    }
    if (vol.downwardAPI) {
      const src = vol.downwardAPI;
      const { payload, errors } = downwardAPIPayload(src.items, ctx.pod, src.defaultMode ?? DEFAULT_MODE, this.allocatable());
      if (errors.length) throw new Error(aggregateMessage(errors));
      const dir = this.volumeDir(uid, PLUGINS.downwardAPI, vol.name);
      await this.apiDataDir(ctx, dir);
      await writeAtomically(dir, payload, ctx.ownership(dir));
      return { hostPath: dir, readOnly: true, plugin: PLUGINS.downwardAPI };
    }
    if (vol.projected) {
      const payload = await this.projectedPayload(ctx, vol.projected);
      const dir = this.volumeDir(uid, PLUGINS.projected, vol.name);
      await this.apiDataDir(ctx, dir);
      await writeAtomically(dir, payload, ctx.ownership(dir));
      return { hostPath: dir, readOnly: true, plugin: PLUGINS.projected };
    }
    if (vol.persistentVolumeClaim) return this.setUpClaim(ctx, vol, vol.persistentVolumeClaim.claimName, vol.persistentVolumeClaim.readOnly === true, false);
    // A generic ephemeral volume is the claim `<pod>-<volume>`, which must be owned by the pod.
    if (vol.ephemeral) return this.setUpClaim(ctx, vol, `${ctx.pod.metadata?.name ?? ''}-${vol.name}`, false, true);
    throw new Error(`volume "${vol.name}" uses a volume type this kubelet does not support`);
  }

  /** upstream projected.go collectData: every source's files merged; errors aggregated. */
  private async projectedPayload(ctx: SetUpContext, src: ProjectedVolumeSource): Promise<Payload> {
    const defaultMode = src.defaultMode ?? DEFAULT_MODE;
    const payload: Payload = new Map();
    const errors: string[] = [];
    const merge = (p: Payload) => {
      for (const [k, v] of p) payload.set(k, v);
    };
    for (const source of src.sources ?? []) {
      try {
        if (source.secret) {
          const optional = source.secret.optional === true;
          merge(secretPayload(source.secret.items, (await ctx.secret(source.secret.name ?? '', optional)) ?? {}, defaultMode, optional));
        } else if (source.configMap) {
          const optional = source.configMap.optional === true;
          merge(configMapPayload(source.configMap.items, (await ctx.configMap(source.configMap.name ?? '', optional)) ?? {}, defaultMode, optional));
        } else if (source.downwardAPI) {
          const r = downwardAPIPayload(source.downwardAPI.items, ctx.pod, defaultMode, this.allocatable());
          errors.push(...r.errors);
          if (!r.errors.length) merge(r.payload);
        } else if (source.serviceAccountToken) {
          const tp = source.serviceAccountToken;
          const tr = await this.tokens.getServiceAccountToken(
            {
              namespace: ctx.pod.metadata?.namespace ?? 'default',
              serviceAccountName: ctx.pod.spec?.serviceAccountName || 'default',
              audiences: tp.audience ? [tp.audience] : [],
              expirationSeconds: tp.expirationSeconds,
              boundPod: { name: ctx.pod.metadata?.name ?? '', uid: podUid(ctx.pod) },
            },
            ctx.signal,
          );
          // With an fsGroup the token is 0600 and ownership makes it 0640, as upstream.
          payload.set(tp.path, { data: Buffer.from(tr.status!.token, 'utf8'), mode: ctx.fsGroup === undefined ? defaultMode : 0o600 });
        }
        // clusterTrustBundle sources (beta, off by default in 1.32) are not supported.
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (errors.length) throw new Error(aggregateMessage(errors));
    return payload;
  }

  /** A PVC volume: the bound PV's hostPath or local path (upstream's DSWP checks and messages). */
  private async setUpClaim(ctx: SetUpContext, vol: Volume, claimName: string, readOnly: boolean, ephemeral: boolean): Promise<PodVolume> {
    const ns = ctx.pod.metadata?.namespace ?? 'default';
    const fail = (msg: string) => new VolumeError(vol.name, `error processing PVC ${ns}/${claimName}: ${msg}`);
    let pvc: PersistentVolumeClaim;
    try {
      pvc = await this.opts.client.resource<PersistentVolumeClaim>('', 'v1', 'persistentvolumeclaims').get(ns, claimName, ctx.call());
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      throw fail(`failed to fetch PVC from API server: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (ephemeral && !(pvc.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.uid === ctx.pod.metadata?.uid)) {
      throw fail(`PVC ${ns}/${claimName} was not created for pod ${ns}/${ctx.pod.metadata?.name ?? ''} (pod is not owner)`);
    }
    if (pvc.metadata?.deletionTimestamp) throw new VolumeError(vol.name, `can't start pod because PVC ${ns}/${claimName} is being deleted`);
    const pvName = pvc.spec?.volumeName;
    if (pvc.status?.phase !== 'Bound' || !pvName) throw fail('PVC is not bound');
    let pv: PersistentVolume;
    try {
      pv = await this.opts.client.resource<PersistentVolume>('', 'v1', 'persistentvolumes').get(undefined, pvName, ctx.call());
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      throw fail(`failed to fetch PV ${pvName} from API server: ${err instanceof Error ? err.message : String(err)}`);
    }
    const ref = pv.spec?.claimRef;
    if (!ref || ref.uid !== pvc.metadata?.uid) throw fail(`found PV object ${pvName} but it has a ClaimRef that is not bound to the PVC`);
    try {
      if (pv.spec?.hostPath) {
        if (pv.metadata?.annotations?.[ANN_PROVISIONED_BY] === LOCAL_PATH_PROVISIONER) await makeLocalPathDir(pv.spec.hostPath.path);
        await checkHostPathType(pv.spec.hostPath.path, pv.spec.hostPath.type);
        return { hostPath: pv.spec.hostPath.path, readOnly, plugin: PLUGINS.hostPath };
      }
      if (pv.spec?.local) {
        // As upstream's local volume plugin: the PV's path is bind-mounted into the pod's volume dir.
        const dir = this.volumeDir(podUid(ctx.pod), PLUGINS.local, pvName);
        const st = await fs.stat(pv.spec.local.path).catch(() => undefined);
        if (!st) throw new Error(`mount failed: path "${pv.spec.local.path}" does not exist`);
        if (!(await isMountPoint(dir))) {
          await makeDir(dir, 0o750);
          await bindMount(pv.spec.local.path, dir, ctx.signal);
        }
        return { hostPath: dir, readOnly, plugin: PLUGINS.local };
      }
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      throw new VolumeError(pvName, `MountVolume.SetUp failed for volume "${pvName}" : ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    throw new VolumeError(pvName, `MountVolume.SetUp failed for volume "${pvName}" : PV ${pvName} has a volume source this kubelet does not support (only hostPath and local)`);
  }

  /** A directory for API data: tmpfs as upstream (sized like a memory emptyDir), or disk when disabled. */
  private async apiDataDir(ctx: SetUpContext, dir: string): Promise<void> {
    if (this.memoryBacked) await this.tmpfsDir(ctx, dir, undefined);
    else await makeDir(dir, 0o777);
  }

  private async tmpfsDir(ctx: SetUpContext, dir: string, sizeLimit: string | number | undefined): Promise<void> {
    await makeDir(dir, 0o777);
    await mountTmpfs(dir, emptyDirMemorySize(quantityValue(this.allocatable().memory), ctx.pod, sizeLimit), ctx.signal);
  }

  allocatable(): NodeAllocatable {
    return this.opts.nodeAllocatable?.() ?? { cpu: String(cpus().length), memory: String(totalmem()) };
  }
}

/**
 * The size of a memory-backed volume (upstream calculateEmptyDirMemorySize): node allocatable
 * memory, lowered to the pod's memory limit when every container declares one, lowered again to
 * the volume's sizeLimit when that is positive and smaller.
 */
export function emptyDirMemorySize(allocatableMemory: number, pod: Readonly<Pod>, sizeLimit: string | number | undefined): number {
  let size = allocatableMemory;
  const podLimit = podMemoryLimit(pod);
  if (podLimit !== undefined && podLimit > 0 && podLimit <= size) size = podLimit;
  const vol = sizeLimit === undefined ? 0 : quantityValue(sizeLimit);
  if (vol > 0 && vol <= size) size = vol;
  return size;
}

/** The pod's memory limit when every container declares one: max(sum of containers, largest init container). */
export function podMemoryLimit(pod: Readonly<Pod>): number | undefined {
  const containers: readonly Container[] = pod.spec?.containers ?? [];
  const inits: readonly Container[] = pod.spec?.initContainers ?? [];
  const limitOf = (c: Container) => c.resources?.limits?.memory;
  if ([...containers, ...inits].some((c) => limitOf(c) === undefined)) return undefined;
  const sum = containers.reduce((s, c) => s + quantityValue(limitOf(c)), 0) + inits.filter((c) => c.restartPolicy === 'Always').reduce((s, c) => s + quantityValue(limitOf(c)), 0);
  const maxInit = inits.reduce((m, c) => Math.max(m, quantityValue(limitOf(c))), 0);
  return Math.max(sum, maxInit);
}

/** Per setUpPod call: the pod, the signal, and configMaps/secrets fetched once however many volumes use them. */
const API_OBJECT_TTL_MS = 1000;

/**
 * A short-lived cache of API reads: every sync of every pod sets up its volumes again (as upstream's
 * remount on sync), and a burst of pods all read the same `kube-root-ca.crt`, so without it each
 * pod start cost several identical GETs. Upstream's kubelet serves these
 * from watches of the referenced objects; a second of staleness is well inside the periodic resync.
 */
class ApiObjectCache {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(private readonly ttlMs: number) {}

  get(key: string, load: () => Promise<unknown>): Promise<unknown> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    if (this.entries.size > 1000) for (const [k, e] of this.entries) if (now - e.at >= this.ttlMs) this.entries.delete(k);
    const value = load();
    const entry = { at: now, value };
    this.entries.set(key, entry);
    // Only found objects are kept: a pod waiting for a missing one sees it on its next try.
    value.then(
      (v) => v === undefined && this.entries.get(key) === entry && this.entries.delete(key),
      () => this.entries.get(key) === entry && this.entries.delete(key),
    );
    return value;
  }
}

class SetUpContext {
  private readonly configMaps = new Map<string, Promise<unknown>>();
  private readonly secrets = new Map<string, Promise<unknown>>();

  constructor(
    private readonly client: RestClient,
    readonly pod: Readonly<Pod>,
    readonly signal: AbortSignal | undefined,
    private readonly shared: ApiObjectCache,
  ) {}

  get fsGroup(): number | undefined {
    return this.pod.spec?.securityContext?.fsGroup;
  }

  get fsGroupChangePolicy(): string | undefined {
    return this.pod.spec?.securityContext?.fsGroupChangePolicy;
  }

  /** The atomic writer's hook applying fsGroup ownership (read-only masks) to an API-data volume. */
  ownership(dir: string): WriteOptions {
    const fsGroup = this.fsGroup;
    return fsGroup === undefined ? {} : { beforeSwap: () => setVolumeOwnership(dir, fsGroup, true) };
  }

  call(): { signal?: AbortSignal } {
    return this.signal ? { signal: this.signal } : {};
  }

  /** The ConfigMap, undefined when it is missing and optional; missing and required throws upstream's `configmap "x" not found`. */
  configMap(name: string, optional: boolean): Promise<ConfigMap | undefined> {
    return this.fetch(this.configMaps, 'configmaps', 'configmap', name, optional) as Promise<ConfigMap | undefined>;
  }

  secret(name: string, optional: boolean): Promise<Secret | undefined> {
    return this.fetch(this.secrets, 'secrets', 'secret', name, optional) as Promise<Secret | undefined>;
  }

  private async fetch(cache: Map<string, Promise<unknown>>, plural: string, singular: string, name: string, optional: boolean): Promise<unknown> {
    let p = cache.get(name);
    if (!p) {
      const ns = this.pod.metadata?.namespace ?? 'default';
      p = this.shared.get(`${plural}/${ns}/${name}`, () =>
        this.client
          .resource<ConfigMap | Secret>('', 'v1', plural)
          .get(ns, name)
          .catch((err: unknown) => {
            if (isNotFound(err)) return undefined;
            throw err;
          }),
      );
      cache.set(name, p);
    }
    const obj = await p;
    if (obj === undefined && !optional) throw new Error(`${singular} "${name}" not found`);
    return obj;
  }
}

function podUid(pod: Readonly<Pod>): string {
  const uid = pod.metadata?.uid;
  if (!uid) throw new TypeError('the pod has no metadata.uid');
  return uid;
}

async function makeDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  const st = await fs.stat(dir);
  if ((st.mode & 0o7777) !== mode) await fs.chmod(dir, mode);
}

/**
 * rancher's local-path provisioner creates a volume's directory with `mkdir -m 0777` in a helper
 * pod on the node; k8ts's kubelet does that step, so non-root pods can write their claim.
 */
async function makeLocalPathDir(path: string): Promise<void> {
  const exists = await fs.stat(path).then(
    () => true,
    () => false,
  );
  if (exists) return;
  await fs.mkdir(path, { recursive: true, mode: 0o777 });
  await fs.chmod(path, 0o777);
}
