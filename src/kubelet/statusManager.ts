// Keeps pods' API status in step with what the kubelet computed (pkg/kubelet/status): one write in
// flight per pod, only when something changed, as a JSON merge patch of the difference against the
// API's copy (so others' fields stay); static pods' statuses go to their mirror pods; and a pod
// whose deletion the kubelet finished is deleted for good (grace 0, UID precondition).
import type { Pod, PodStatus } from 'kubernetes-types/core/v1.js';
import { isConflict, isNotFound } from '../client/apiError.js';
import type { ResourceClient } from '../client/resourceClient.js';
import type { RestClient } from '../client/restClient.js';
import { logger } from '../util/log.js';

const log = logger('status-manager');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** `v` without null object members, at any depth: the API server stores a null member as absent. */
function withoutNulls(v: Json | undefined): Json | undefined {
  if (Array.isArray(v)) return v.map((x) => withoutNulls(x) ?? null);
  if (typeof v !== 'object' || v === null) return v;
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x) ?? null;
  return out;
}

/** Deep equality of JSON values; the order of object keys does not matter (the API server's may differ from ours). */
export function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
}

/**
 * A JSON merge patch turning `before` into `after` (removed keys become null; arrays are replaced).
 * A null member counts as absent (e.g. conditions' `lastProbeTime: null`, which the server does not
 * store), so re-sending the same status gives no patch.
 */
export function mergePatchDiff(before: Json | undefined, after: Json): Json | undefined {
  if (before === undefined || before === null) return after === null ? undefined : after;
  const isObj = (v: Json | undefined): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(before) || !isObj(after)) return sameJson(withoutNulls(before), withoutNulls(after)) ? undefined : after;
  const out: { [k: string]: Json } = {};
  for (const k of Object.keys(before)) if (!(k in after) && before[k] !== null) out[k] = null;
  for (const [k, v] of Object.entries(after)) {
    const d = mergePatchDiff(before[k], v);
    if (d !== undefined) out[k] = d;
  }
  return Object.keys(out).length ? out : undefined;
}

interface Entry {
  status: PodStatus;
  pod: Readonly<Pod>;
  /** The status the API was last found or made to hold. */
  sent?: Json;
  sending?: Promise<void>;
  dirty: boolean;
}

export interface StatusManagerOptions {
  client: RestClient;
  /** The API pod a status is written to: the pod itself, or the mirror pod of a static pod (undefined until it exists). */
  apiPodFor(pod: Readonly<Pod>): Readonly<Pod> | undefined;
}

export class StatusManager {
  private readonly pods: ResourceClient<Pod>;
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(private readonly o: StatusManagerOptions) {
    this.pods = o.client.resource<Pod>('', 'v1', 'pods');
  }

  get(uid: string): PodStatus | undefined {
    return this.entries.get(uid)?.status;
  }

  /** Records `status` for `pod` and writes it if it differs from what was last written. */
  set(pod: Readonly<Pod>, status: PodStatus): void {
    const uid = pod.metadata!.uid!;
    let e = this.entries.get(uid);
    if (!e) this.entries.set(uid, (e = { status, pod, dirty: true }));
    else {
      e.status = status;
      e.pod = pod;
      e.dirty = true;
    }
    this.kick(uid, e);
  }

  /** Re-sends statuses the API has not got (e.g. a mirror pod that now exists). */
  resync(): void {
    for (const [uid, e] of this.entries) {
      const api = this.o.apiPodFor(e.pod);
      if (api && !sameJson((api.status ?? {}) as Json, e.sent)) e.dirty = true;
      if (e.dirty) this.kick(uid, e);
    }
  }

  private kick(uid: string, e: Entry): void {
    if (e.sending || this.stopped) return;
    e.sending = this.send(e).finally(() => {
      e.sending = undefined;
      if (e.dirty && !this.stopped) setTimeout(() => this.kick(uid, e), 200).unref();
    });
  }

  private async send(e: Entry): Promise<void> {
    e.dirty = false;
    const api = this.o.apiPodFor(e.pod);
    if (!api) return;
    const status = JSON.parse(JSON.stringify(e.status)) as Json;
    const diff = mergePatchDiff((api.status ?? {}) as Json, status);
    if (diff === undefined) {
      e.sent = (api.status ?? {}) as Json;
      return;
    }
    log.debug({ pod: `${api.metadata!.namespace}/${api.metadata!.name}`, patch: diff }, 'patching pod status');
    try {
      const updated = await this.pods.patch(api.metadata!.namespace, api.metadata!.name!, { metadata: { uid: api.metadata!.uid }, status: diff }, { type: 'merge', subresource: 'status' });
      e.sent = (updated.status ?? {}) as Json;
    } catch (err) {
      if (isNotFound(err)) return;
      if (!isConflict(err)) log.warn({ pod: `${api.metadata!.namespace}/${api.metadata!.name}`, err: (err as Error).message }, 'updating pod status failed; will retry');
      e.dirty = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Waits for in-flight writes of `uid`. */
  async flush(uid: string): Promise<void> {
    const e = this.entries.get(uid);
    while (e?.sending) await e.sending;
    if (e?.dirty) {
      e.sending = this.send(e).finally(() => (e.sending = undefined));
      await e.sending;
    }
  }

  /** The kubelet finished a deleted pod: delete it from the API for good. */
  async finalizeDeletion(pod: Readonly<Pod>): Promise<void> {
    await this.flush(pod.metadata!.uid!);
    try {
      await this.pods.delete(pod.metadata!.namespace, pod.metadata!.name!, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  forget(uid: string): void {
    this.entries.delete(uid);
  }

  stop(): void {
    this.stopped = true;
  }
}
