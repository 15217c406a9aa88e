// A local-path provisioner like rancher's local-path-provisioner that k3s ships: a default
// StorageClass `local-path` (WaitForFirstConsumer, reclaim Delete), and for each of its claims the
// scheduler placed (`volume.kubernetes.io/selected-node`) a hostPath PV `<storageRoot>/pvc-<uid>_<ns>_<name>`
// (DirectoryOrCreate: the kubelet creates the directory on the node) with node affinity to that
// node, pre-bound to the claim; the PV binder completes the binding. Released volumes of reclaim
// policy Delete are deleted; their directory is removed when it is on this machine's node.
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Node, PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { isAlreadyExists, isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { ANN_DEFAULT_STORAGE_CLASS, ANN_DYNAMICALLY_PROVISIONED, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER, ANN_BETA_STORAGE_PROVISIONER, claimClass } from '../persistentvolume/binding.js';

export const LOCAL_PATH_PROVISIONER_CONTROLLER = 'local-path-provisioner-controller';
export const LOCAL_PATH_PROVISIONER = 'rancher.io/local-path';
export const LOCAL_PATH_STORAGE_CLASS = 'local-path';
/** k3s keeps volumes in /var/lib/rancher/k3s/storage; k8ts under its data dir. */
export const DEFAULT_STORAGE_ROOT = '/var/lib/k8ts/storage';
const LABEL_HOSTNAME = 'kubernetes.io/hostname';

type PVC = PersistentVolumeClaim & KubeObject;
type PV = PersistentVolume & KubeObject;

export interface LocalPathProvisionerOptions {
  /** Where volumes live on every node (rancher's nodePathMap DEFAULT_PATH_FOR_NON_LISTED_NODES). */
  storageRoot?: string;
  /**
   * The node whose filesystem this process sees (the all-in-one server's own node): released
   * volumes on it get their directory removed. Others keep their data (logged), since the
   * directory lives on a node this controller cannot reach.
   */
  localNodeName?: string;
  /** Create the `local-path` StorageClass if missing (default true). */
  createStorageClass?: boolean;
}

/** The StorageClass k3s installs. */
export function localPathStorageClass(): StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: LOCAL_PATH_STORAGE_CLASS, annotations: { [ANN_DEFAULT_STORAGE_CLASS]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
}

/** The claim is this provisioner's to provision now (rancher + sig-storage-lib shouldProvision). */
export function shouldProvision(claim: Readonly<PersistentVolumeClaim>, cls: Readonly<StorageClass> | undefined): boolean {
  if (claim.metadata?.deletionTimestamp || claim.spec?.volumeName) return false;
  if (!cls || cls.provisioner !== LOCAL_PATH_PROVISIONER) return false;
  const anns = claim.metadata?.annotations ?? {};
  if ((anns[ANN_STORAGE_PROVISIONER] ?? anns[ANN_BETA_STORAGE_PROVISIONER]) !== LOCAL_PATH_PROVISIONER) return false;
  // WaitForFirstConsumer: only once the scheduler chose the node.
  return cls.volumeBindingMode !== 'WaitForFirstConsumer' || (anns[ANN_SELECTED_NODE] ?? '') !== '';
}

/** Why the claim cannot be served ('' if it can): rancher's access-mode rule. */
export function unsupportedAccessModes(claim: Readonly<PersistentVolumeClaim>): string {
  const ok = (claim.spec?.accessModes ?? []).every((m) => m === 'ReadWriteOnce' || m === 'ReadWriteOncePod');
  return ok ? '' : 'NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes';
}

/** The PV for `claim` on `node` (hostname label value `hostname`), as rancher's Provision builds it. */
export function localPathVolume(claim: Readonly<PersistentVolumeClaim>, cls: Readonly<StorageClass>, node: string, hostname: string, storageRoot: string): PersistentVolume {
  const name = `pvc-${claim.metadata!.uid!}`;
  const path = join(storageRoot, `${name}_${claim.metadata!.namespace!}_${claim.metadata!.name!}`);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, annotations: { [ANN_DYNAMICALLY_PROVISIONED]: LOCAL_PATH_PROVISIONER, 'local.path.provisioner/selected-node': node } },
    spec: {
      persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
      storageClassName: cls.metadata!.name!,
      accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      capacity: { storage: claim.spec?.resources?.requests?.storage ?? '0' },
      hostPath: { path, type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_HOSTNAME, operator: 'In', values: [hostname] }] }] } },
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: claim.metadata!.namespace!, name: claim.metadata!.name!, uid: claim.metadata!.uid! },
    },
  };
}

/** Node annotation (set by the k8ts kubelet) naming the directory local-path volumes of that node go in. */
export const ANN_NODE_STORAGE_ROOT = 'k8ts.io/local-path-storage-root';

export const LOCAL_PATH_PROVISIONER_DESCRIPTOR = {
  name: LOCAL_PATH_PROVISIONER_CONTROLLER,
  alias: 'local-path-provisioner',
  create: (ctx: ControllerContext): Controller =>
    newLocalPathProvisioner(ctx, { ...(ctx.options.localNodeName ? { localNodeName: ctx.options.localNodeName } : {}), ...(ctx.options.localPathStorageRoot ? { storageRoot: ctx.options.localPathStorageRoot } : {}) }),
};

export function newLocalPathProvisioner(ctx: ControllerContext, opts: LocalPathProvisionerOptions = {}): Controller {
  const log = ctx.log.child({ controller: 'local-path-provisioner' });
  const recorder = ctx.recorder(LOCAL_PATH_PROVISIONER);
  const storageRoot = opts.storageRoot ?? DEFAULT_STORAGE_ROOT;
  const claimQueue = newQueue('local_path_claims');
  const volumeQueue = newQueue('local_path_volumes');
  const claims = ctx.informers.informerFor<PVC>('', 'v1', 'persistentvolumeclaims');
  const volumes = ctx.informers.informerFor<PV>('', 'v1', 'persistentvolumes');
  const classes = ctx.informers.informerFor<StorageClass & KubeObject>('storage.k8s.io', 'v1', 'storageclasses');
  const pvClient = ctx.client.resource<PersistentVolume>('', 'v1', 'persistentvolumes');
  const nodeClient = ctx.client.resource<Node>('', 'v1', 'nodes');
  const classClient = ctx.client.resource<StorageClass>('storage.k8s.io', 'v1', 'storageclasses');
  const asClaim = (c: Readonly<PersistentVolumeClaim>): PVC => ({ ...c, apiVersion: 'v1', kind: 'PersistentVolumeClaim' });

  claims.addEventHandler({ onAdd: (c) => claimQueue.add(keyOf(c)), onUpdate: (_o, c) => claimQueue.add(keyOf(c)) });
  volumes.addEventHandler({ onAdd: (v) => volumeQueue.add(v.metadata!.name!), onUpdate: (_o, v) => volumeQueue.add(v.metadata!.name!) });
  classes.addEventHandler({ onAdd: (sc) => sc.provisioner === LOCAL_PATH_PROVISIONER && claims.list().forEach((c) => claimQueue.add(keyOf(c))) });

  async function syncClaim(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const claim = claims.get(ns, name);
    if (!claim) return;
    const cls = classes.get(undefined, claimClass(claim));
    if (!shouldProvision(claim, cls)) return;
    const pvName = `pvc-${claim.metadata!.uid!}`;
    if (volumes.get(undefined, pvName)) return;
    const why = unsupportedAccessModes(claim);
    if (why) {
      recorder.event(asClaim(claim), 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${cls!.metadata!.name!}": ${why}`);
      return;
    }
    const node = claim.metadata!.annotations?.[ANN_SELECTED_NODE] ?? '';
    if (!node) {
      recorder.event(asClaim(claim), 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${cls!.metadata!.name!}": configuration error, no node was specified`);
      return;
    }
    recorder.event(asClaim(claim), 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${ns}/${name}"`);
    const nodeObj = await nodeClient.get(undefined, node, { signal }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    const hostname = nodeObj?.metadata?.labels?.[LABEL_HOSTNAME] ?? node;
    // Each k8ts node says where its local volumes live (its data dir); k3s uses one fixed path instead.
    const root = nodeObj?.metadata?.annotations?.[ANN_NODE_STORAGE_ROOT] ?? storageRoot;
    try {
      await pvClient.create(localPathVolume(claim, cls!, node, hostname, root), { signal });
    } catch (err) {
      if (!isAlreadyExists(err)) {
        recorder.event(asClaim(claim), 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${cls!.metadata!.name!}": ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
    }
    recorder.event(asClaim(claim), 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
    log.info({ claim: key, volume: pvName, node }, 'provisioned volume');
  }

  async function syncVolume(name: string, signal: AbortSignal): Promise<void> {
    const pv = volumes.get(undefined, name);
    if (!pv || pv.metadata?.deletionTimestamp) return;
    if (pv.metadata?.annotations?.[ANN_DYNAMICALLY_PROVISIONED] !== LOCAL_PATH_PROVISIONER) return;
    if (pv.status?.phase !== 'Released' || pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') return;
    const path = pv.spec.hostPath?.path ?? pv.spec.local?.path;
    const node = pv.metadata.annotations['local.path.provisioner/selected-node'];
    if (path && node && node === opts.localNodeName) await removeVolumeDir(path, dirname(path));
    else log.info({ volume: name, node, path }, 'volume released on another node: its directory stays there');
    await pvClient.delete(undefined, name, { signal, preconditions: { uid: pv.metadata.uid! } }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    log.info({ volume: name }, 'deleted released volume');
  }

  async function ensureStorageClass(signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await classClient.create(localPathStorageClass(), { signal });
        return;
      } catch (err) {
        if (isAlreadyExists(err) || signal.aborted) return;
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not create the local-path StorageClass; retrying');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  return {
    name: LOCAL_PATH_PROVISIONER_CONTROLLER,
    async run(signal) {
      if (opts.createStorageClass !== false) await ensureStorageClass(signal);
      const synced = [() => claims.hasSynced(), () => volumes.hasSynced(), () => classes.hasSynced()];
      await Promise.all([
        runQueueWorkers({ name: 'local_path_claims', queue: claimQueue, sync: syncClaim, workers: 1, synced, log }, signal),
        runQueueWorkers({ name: 'local_path_volumes', queue: volumeQueue, sync: syncVolume, workers: 1, synced, log }, signal),
      ]);
    },
  };
}

/** Removes a volume directory, but only one this provisioner made: `pvc-*` directly under the storage root. */
export async function removeVolumeDir(path: string, storageRoot: string): Promise<void> {
  if (dirname(path) !== storageRoot.replace(/\/+$/, '') || !basename(path).startsWith('pvc-')) throw new Error(`refusing to delete ${path}: not a local-path volume under ${storageRoot}`);
  await fs.rm(path, { recursive: true, force: true });
}
