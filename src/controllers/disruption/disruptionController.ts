// The disruption controller (upstream `disruption-controller`): keeps each PodDisruptionBudget's
// status — how many of its pods are healthy, how many must be, how many may be disrupted — which
// the API server's eviction subresource consults before deleting a pod.

import type { Pod, ReplicationController } from 'kubernetes-types/core/v1.js';
import type { Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { fromLabelSelector, matches, type Requirement } from '../../api/labels.js';
import { isConflict, isNotFound } from '../../client/apiError.js';
import { findResourceType } from '../../client/restClient.js';
import { controllerOf } from '../controllerRef.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { countHealthyPods, disruptedPodMap, expectedPodCount, failSafeStatus, pdbStatus } from './pdbStatus.js';

export const DISRUPTION_CONTROLLER = 'disruption-controller';

/** A PDB's selector; undefined for a nil selector (which selects nothing). An empty one selects all. */
function pdbSelector(pdb: Readonly<PodDisruptionBudget>): Requirement[] | undefined {
  return pdb.spec?.selector ? fromLabelSelector(pdb.spec.selector) : undefined;
}

const groupOf = (apiVersion: string | undefined) => {
  const i = (apiVersion ?? '').indexOf('/');
  return i < 0 ? '' : apiVersion!.slice(0, i);
};

export function newDisruptionController(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: DISRUPTION_CONTROLLER });
  const queue = newQueue(DISRUPTION_CONTROLLER);
  const pdbs = ctx.informers.informerFor<PodDisruptionBudget>('policy', 'v1', 'poddisruptionbudgets');
  const pods = ctx.informers.informerFor<Pod>('', 'v1', 'pods');
  const rcs = ctx.informers.informerFor<ReplicationController>('', 'v1', 'replicationcontrollers');
  const rss = ctx.informers.informerFor<ReplicaSet>('apps', 'v1', 'replicasets');
  const deployments = ctx.informers.informerFor<Deployment>('apps', 'v1', 'deployments');
  const statefulsets = ctx.informers.informerFor<StatefulSet>('apps', 'v1', 'statefulsets');
  const client = ctx.client.resource<PodDisruptionBudget>('policy', 'v1', 'poddisruptionbudgets');
  const recorder = ctx.recorder('controllermanager');

  pdbs.addEventHandler({
    onAdd: (p) => queue.add(keyOf(p)),
    onUpdate: (_o, p) => queue.add(keyOf(p)),
    onDelete: (p) => queue.add(keyOf(p)),
  });
  const podChanged = (p: Readonly<Pod>) => {
    for (const b of pdbs.list(p.metadata?.namespace)) {
      const sel = pdbSelector(b);
      if (sel && matches(sel, p.metadata?.labels)) queue.add(keyOf(b));
    }
  };
  pods.addEventHandler({ onAdd: podChanged, onUpdate: (_o, p) => podChanged(p), onDelete: podChanged });

  type Found = { uid: string; scale: number } | undefined;
  const kindIs = (ref: OwnerReference, kind: string, groups: string[]) => ref.kind === kind && groups.includes(groupOf(ref.apiVersion));

  /** The controllers upstream knows (its finders), then any kind with a scale subresource. */
  async function findController(ref: OwnerReference, ns: string): Promise<Found> {
    if (kindIs(ref, 'ReplicationController', [''])) {
      const rc = rcs.get(ns, ref.name);
      return rc?.metadata?.uid === ref.uid ? { uid: ref.uid, scale: rc.spec?.replicas ?? 1 } : undefined;
    }
    if (kindIs(ref, 'ReplicaSet', ['apps', 'extensions'])) {
      const rs = rss.get(ns, ref.name);
      if (rs?.metadata?.uid !== ref.uid) return undefined;
      const owner = controllerOf(rs);
      if (owner && kindIs(owner, 'Deployment', ['apps', 'extensions'])) {
        const d = deployments.get(ns, owner.name);
        return d?.metadata?.uid === owner.uid ? { uid: owner.uid, scale: d.spec?.replicas ?? 1 } : undefined;
      }
      return { uid: ref.uid, scale: rs.spec?.replicas ?? 1 };
    }
    if (kindIs(ref, 'StatefulSet', ['apps'])) {
      const ss = statefulsets.get(ns, ref.name);
      return ss?.metadata?.uid === ref.uid ? { uid: ref.uid, scale: ss.spec?.replicas ?? 1 } : undefined;
    }
    let plural: string;
    try {
      plural = findResourceType(ref.kind, groupOf(ref.apiVersion)).plural;
    } catch {
      return undefined;
    }
    const version = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[1]! : ref.apiVersion;
    try {
      const scale = await ctx.client.resource(groupOf(ref.apiVersion), version, plural).getSubresource<{ metadata?: { uid?: string }; spec?: { replicas?: number } }>(ns, ref.name, 'scale');
      return scale.metadata?.uid === ref.uid ? { uid: ref.uid, scale: scale.spec?.replicas ?? 0 } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Upstream's getExpectedScale: the sum of the scales of the pods' controllers. */
  async function expectedScale(ns: string, selected: readonly Readonly<Pod>[], unmanaged: string[]): Promise<number> {
    const scales = new Map<string, number>();
    for (const p of selected) {
      const ref = controllerOf(p);
      if (!ref) {
        unmanaged.push(p.metadata?.name ?? '');
        continue;
      }
      if (scales.has(ref.uid)) continue;
      const found = await findController(ref, ns);
      if (!found) throw new Error(`found no controllers for pod "${p.metadata?.name}"`);
      scales.set(found.uid, found.scale);
    }
    let n = 0;
    for (const v of scales.values()) n += v;
    return n;
  }

  async function trySync(pdb: Readonly<PodDisruptionBudget>): Promise<void> {
    const ns = pdb.metadata!.namespace!;
    const sel = pdbSelector(pdb);
    const selected = sel ? pods.list(ns).filter((p) => matches(sel, p.metadata?.labels)) : [];
    if (selected.length === 0) recorder.event(pdb, 'Normal', 'NoPods', 'No matching pods found');
    const unmanaged: string[] = [];
    let counts: { expectedCount: number; desiredHealthy: number };
    // The controllers' scale is only needed for maxUnavailable and percentages.
    const needsScale = (pdb.spec?.maxUnavailable ?? undefined) !== undefined || typeof pdb.spec?.minAvailable === 'string';
    try {
      const scale = needsScale ? await expectedScale(ns, selected, unmanaged) : 0;
      counts = expectedPodCount(pdb, selected.length, () => scale);
    } catch (err) {
      recorder.event(pdb, 'Warning', 'CalculateExpectedPodCountFailed', `Failed to calculate the number of expected pods: ${(err as Error).message}`);
      throw err;
    }
    if (unmanaged.length) {
      recorder.event(
        pdb,
        'Warning',
        'UnmanagedPods',
        `Pods selected by this PodDisruptionBudget (selector: ${JSON.stringify(pdb.spec?.selector)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
      );
    }
    const now = Date.now();
    const { disrupted, recheckAt, overdue } = disruptedPodMap(pdb, selected, now);
    for (const p of overdue) recorder.event(p as Pod, 'Warning', 'NotDeleted', `Pod was expected by PDB ${ns}/${pdb.metadata?.name} to be deleted but it wasn't`);
    const healthy = countHealthyPods(selected, disrupted, now);
    const status = pdbStatus(pdb, healthy, counts.desiredHealthy, counts.expectedCount, disrupted, now);
    if (status) await client.updateStatus({ ...pdb, status } as PodDisruptionBudget);
    if (recheckAt !== undefined) queue.addAfter(keyOf(pdb), Math.max(0, recheckAt - now));
  }

  async function sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const pdb = pdbs.get(ns, name);
    if (!pdb) return;
    try {
      await trySync(pdb);
    } catch (err) {
      // A conflict just means a newer PDB is coming: retry without the fail-safe.
      if (isConflict(err) || isNotFound(err)) throw err;
      log.warn({ err, pdb: key }, 'failed to sync PDB');
      await client.updateStatus({ ...pdb, status: failSafeStatus(pdb, (err as Error).message, Date.now()) } as PodDisruptionBudget).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
    }
  }

  return {
    name: DISRUPTION_CONTROLLER,
    run: (signal) =>
      runQueueWorkers(
        {
          name: DISRUPTION_CONTROLLER,
          queue,
          sync,
          workers: 1,
          synced: [pdbs, pods, rcs, rss, deployments, statefulsets].map((i) => () => i.hasSynced()),
          log,
        },
        signal,
      ),
  };
}
