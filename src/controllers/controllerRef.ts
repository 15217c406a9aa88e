// Ownership: controllers own pods (and ReplicaSets…) through a controller ownerReference. They adopt
// orphans that match their selector and release children that stop matching, as upstream's
// ControllerRefManager, and create children from a template as upstream's PodControl.

import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { matches, type Requirement } from '../api/labels.js';
import { isNotFound } from '../client/apiError.js';
import type { EventRecorder } from '../client/events.js';
import type { RestClient } from '../client/restClient.js';
import type { KubeObject } from '../client/resourceClient.js';

export interface Owner {
  apiVersion: string;
  kind: string;
  metadata: { name?: string | undefined; namespace?: string | undefined; uid?: string | undefined; deletionTimestamp?: string | undefined };
}

/** The controller ownerReference of `obj`, if any. */
export function controllerOf(obj: { metadata?: { ownerReferences?: OwnerReference[] | undefined } | undefined }): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** The ownerReference a controller puts on what it creates. */
export function controllerRef(owner: Owner): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Succeeded/Failed pods and pods being deleted no longer count toward replicas. */
export function isPodActive(p: Readonly<Pod>): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata?.deletionTimestamp;
}

export function isPodReady(p: Readonly<Pod>): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Ready for at least `minReadySeconds` at `now` (upstream's IsPodAvailable). */
export function isPodAvailable(p: Readonly<Pod>, minReadySeconds: number, now: number): boolean {
  const c = p.status?.conditions?.find((x) => x.type === 'Ready');
  if (c?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse(c.lastTransitionTime ?? '');
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

/** The pod a template describes, owned by `owner` (upstream's GetPodFromTemplate). */
export function podFromTemplate(template: Readonly<PodTemplateSpec>, owner: Owner, generateNamePrefix: string): Pod {
  const m = template.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: generateNamePrefix,
      namespace: owner.metadata.namespace,
      ...(m.labels ? { labels: { ...m.labels } } : {}),
      ...(m.annotations ? { annotations: { ...m.annotations } } : {}),
      ...(m.finalizers ? { finalizers: [...m.finalizers] } : {}),
      ownerReferences: [controllerRef(owner)],
    },
    spec: structuredClone(template.spec!) as Pod['spec'],
  };
}

/** `<name>-` when that is a valid generateName prefix, as upstream's getPodsPrefix. */
export function podsPrefix(controllerName: string): string {
  return `${controllerName}-`.length <= 253 - 5 ? `${controllerName}-` : controllerName.slice(0, 247) + '-';
}

export class PodControl {
  private readonly pods;

  constructor(
    client: RestClient,
    private readonly recorder: EventRecorder,
  ) {
    this.pods = client.resource<Pod>('', 'v1', 'pods');
  }

  /** Creates a pod from the template; records SuccessfulCreate / FailedCreate on the owner as upstream. */
  async createPod(template: Readonly<PodTemplateSpec>, owner: Owner, signal?: AbortSignal): Promise<Pod> {
    const pod = podFromTemplate(template, owner, podsPrefix(owner.metadata.name!));
    if (!pod.metadata?.labels || Object.keys(pod.metadata.labels).length === 0) throw new Error('unable to create pods, no labels');
    try {
      const created = await this.pods.create(pod, { namespace: owner.metadata.namespace, ...(signal ? { signal } : {}) });
      this.recorder.event(owner as KubeObject, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata?.name}`);
      return created;
    } catch (err) {
      this.recorder.event(owner as KubeObject, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
      throw err;
    }
  }

  /**
   * Deletes a pod; records SuccessfulDelete / FailedDelete. Resolves false when the pod was already
   * gone (its delete event may have been seen before the caller's expectation was set: lower it).
   */
  async deletePod(namespace: string, name: string, owner: Owner, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.pods.delete(namespace, name, signal ? { signal } : {});
      this.recorder.event(owner as KubeObject, 'Normal', 'SuccessfulDelete', `Deleted pod: ${name}`);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      this.recorder.event(owner as KubeObject, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
      throw err;
    }
  }
}

export interface Claimable extends KubeObject {
  metadata?: KubeObject['metadata'] & { ownerReferences?: OwnerReference[]; labels?: Record<string, string>; deletionTimestamp?: string };
}

/**
 * Upstream's ClaimObjects: keeps the children `owner` controls and that match, adopts matching
 * orphans (after `canAdopt`, a fresh read proving the owner is not being deleted), and releases
 * owned children that stopped matching. Returns the children the owner should manage.
 */
export async function claimChildren<T extends Claimable>(opts: {
  owner: Owner;
  selector: readonly Requirement[];
  candidates: readonly Readonly<T>[];
  client: RestClient;
  group: string;
  version: string;
  plural: string;
  canAdopt: () => Promise<void>;
}): Promise<Readonly<T>[]> {
  const { owner, selector, candidates } = opts;
  const res = opts.client.resource<T>(opts.group, opts.version, opts.plural);
  const claimed: Readonly<T>[] = [];
  let adoptChecked: Promise<void> | undefined;
  for (const c of candidates) {
    const ref = controllerOf(c);
    const matchesSel = selector.length > 0 && matches(selector, c.metadata?.labels);
    if (ref) {
      if (ref.uid !== owner.metadata.uid) continue;
      if (matchesSel) {
        claimed.push(c);
        continue;
      }
      if (owner.metadata.deletionTimestamp) continue;
      // Release: drop our ownerReference (matched by UID).
      await res
        .patch(c.metadata?.namespace, c.metadata!.name!, { metadata: { ownerReferences: [{ $patch: 'delete', uid: owner.metadata.uid }], uid: c.metadata?.uid } }, { type: 'strategic' })
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      continue;
    }
    if (!matchesSel || owner.metadata.deletionTimestamp || c.metadata?.deletionTimestamp) continue;
    adoptChecked ??= opts.canAdopt();
    await adoptChecked;
    try {
      const adopted = await res.patch(c.metadata?.namespace, c.metadata!.name!, { metadata: { ownerReferences: [controllerRef(owner)], uid: c.metadata?.uid } }, { type: 'strategic' });
      claimed.push(adopted);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return claimed;
}

/** What `enqueueOwnersOfUpdatedPod` needs from a controller that owns pods. */
export interface PodOwnerLookup<O> {
  /** The owner a controller reference names, if it is one of ours (kind, name and UID match). */
  resolve(namespace: string | undefined, ref: OwnerReference): O | undefined;
  /** Owners whose selector matches an orphan pod. */
  matching(pod: Readonly<Pod>): Iterable<O>;
  enqueue(owner: O): void;
  enqueueAfter(owner: O, ms: number): void;
  minReadySeconds(owner: O): number;
}

/**
 * The pod-update handler upstream's ReplicaSet, DaemonSet and StatefulSet controllers share: wake
 * the old owner when the controller reference changed, the current owner always (and again when a
 * pod that just became ready finishes minReadySeconds), and, for an orphan whose labels or owner
 * changed, every owner that may adopt it.
 */
export function enqueueOwnersOfUpdatedPod<O>(old: Readonly<Pod>, cur: Readonly<Pod>, h: PodOwnerLookup<O>): void {
  const oldRef = controllerOf(old);
  const curRef = controllerOf(cur);
  const refChanged = oldRef?.uid !== curRef?.uid;
  if (refChanged && oldRef) {
    const o = h.resolve(old.metadata?.namespace, oldRef);
    if (o) h.enqueue(o);
  }
  if (curRef) {
    const o = h.resolve(cur.metadata?.namespace, curRef);
    if (!o) return;
    h.enqueue(o);
    const mrs = h.minReadySeconds(o);
    if (mrs > 0 && !isPodReady(old) && isPodReady(cur)) h.enqueueAfter(o, mrs * 1000 + 1000);
    return;
  }
  if (refChanged || JSON.stringify(old.metadata?.labels) !== JSON.stringify(cur.metadata?.labels)) for (const o of h.matching(cur)) h.enqueue(o);
}
