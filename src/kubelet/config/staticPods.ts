// Static pods (pkg/kubelet/config/file.go + common.go): pod manifests in a directory run on this node
// without the API server. Each gets a UID hashed from its manifest and node, the name
// `<name>-<node>`, the config.* annotations, defaults, and tolerates every NoExecute taint.
// Invalid manifests are logged and skipped; the others keep running.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseAllDocuments } from 'yaml';
import { applyDefaults } from '../../apiserver/defaults.js';
import { logger } from '../../util/log.js';

const log = logger('static-pods');

export const ANNOTATION_CONFIG_SOURCE = 'kubernetes.io/config.source';
export const ANNOTATION_CONFIG_HASH = 'kubernetes.io/config.hash';
export const ANNOTATION_CONFIG_SEEN = 'kubernetes.io/config.seen';
export const ANNOTATION_CONFIG_MIRROR = 'kubernetes.io/config.mirror';

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

/** Turns one manifest file's text into the static pod the kubelet runs; throws ManifestError when it is not a valid pod. */
export function staticPodFromManifest(text: string, file: string, nodeName: string): Pod {
  let docs;
  try {
    docs = parseAllDocuments(text).filter((d) => d.contents !== null);
  } catch (err) {
    throw new ManifestError(`${file}: ${(err as Error).message}`);
  }
  if (docs.length !== 1) throw new ManifestError(`${file}: a static pod manifest holds exactly one object, found ${docs.length}`);
  const doc = docs[0]!;
  if (doc.errors.length) throw new ManifestError(`${file}: ${doc.errors[0]!.message}`);
  const obj = doc.toJSON() as Pod | null;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ManifestError(`${file}: not an object`);
  if (obj.kind !== 'Pod' || (obj.apiVersion !== 'v1' && obj.apiVersion !== undefined)) {
    throw new ManifestError(`${file}: the object is a ${obj.kind ?? 'thing without kind'} (${obj.apiVersion ?? 'no apiVersion'}), not a v1 Pod`);
  }
  const name = obj.metadata?.name;
  if (!name || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new ManifestError(`${file}: metadata.name: Invalid value: "${name ?? ''}": a lowercase RFC 1123 subdomain is required`);
  const containers = obj.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) throw new ManifestError(`${file}: spec.containers: Required value`);
  for (const [i, c] of containers.entries()) {
    if (!c?.name) throw new ManifestError(`${file}: spec.containers[${i}].name: Required value`);
    if (!c.image) throw new ManifestError(`${file}: spec.containers[${i}].image: Required value`);
  }
  const pod = structuredClone(obj) as { -readonly [K in keyof Pod]: Pod[K] };
  pod.apiVersion = 'v1';
  pod.kind = 'Pod';
  const hash = createHash('md5').update(nodeName).update(file).update(JSON.stringify(obj)).digest('hex');
  pod.metadata = {
    ...pod.metadata,
    name: `${name}-${nodeName}`,
    namespace: pod.metadata?.namespace || 'default',
    uid: hash,
    annotations: { ...(pod.metadata?.annotations ?? {}), [ANNOTATION_CONFIG_HASH]: hash, [ANNOTATION_CONFIG_SOURCE]: 'file', [ANNOTATION_CONFIG_SEEN]: new Date().toISOString() },
  };
  delete (pod.metadata as { resourceVersion?: string }).resourceVersion;
  pod.spec = { ...pod.spec!, nodeName };
  pod.spec.tolerations = [...(pod.spec.tolerations ?? []), { operator: 'Exists', effect: 'NoExecute' }];
  applyDefaults('', 'Pod', pod as unknown as Record<string, unknown>);
  pod.status = { phase: 'Pending' };
  return pod as Pod;
}

/** The mirror pod the kubelet creates in the API for a static pod. */
export function mirrorPodFor(pod: Readonly<Pod>, node: { name: string; uid: string }): Pod {
  const m = structuredClone(pod) as { -readonly [K in keyof Pod]: Pod[K] };
  const annotations = { ...(m.metadata!.annotations ?? {}) };
  annotations[ANNOTATION_CONFIG_MIRROR] = annotations[ANNOTATION_CONFIG_HASH]!;
  m.metadata = {
    name: pod.metadata!.name!,
    namespace: pod.metadata!.namespace!,
    ...(pod.metadata!.labels ? { labels: pod.metadata!.labels } : {}),
    annotations,
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid, controller: true }],
  };
  delete m.status;
  return m as Pod;
}

export function isMirrorPod(pod: Readonly<Pod>): boolean {
  return pod.metadata?.annotations?.[ANNOTATION_CONFIG_MIRROR] !== undefined;
}

/**
 * Watches a manifest directory: every `intervalMs` (upstream: 20 s) and on change notifications,
 * re-reads it and reports the full set of static pods. Files starting with `.` are ignored.
 */
export class StaticPodSource {
  private timer: NodeJS.Timeout | undefined;
  private readonly cache = new Map<string, { mtimeMs: number; size: number; pod?: Pod; error?: string }>();
  private last = '';

  constructor(
    private readonly dir: string,
    private readonly nodeName: string,
    private readonly onChange: (pods: Pod[]) => void,
    private readonly intervalMs = 20_000,
  ) {}

  async start(): Promise<void> {
    await this.scan();
    this.timer = setInterval(() => void this.scan(), this.intervalMs);
    this.timer.unref();
    try {
      const { watch } = await import('node:fs');
      const w = watch(this.dir, () => void this.scan());
      w.on('error', () => w.close());
      w.unref();
      this.closeWatch = () => w.close();
    } catch {
      // no watch support: the interval is enough
    }
  }

  private closeWatch: (() => void) | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;

  async scan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = this.scanOnce().finally(() => (this.scanning = undefined));
    await this.scanning;
    if (this.again) {
      this.again = false;
      await this.scan();
    }
  }

  private async scanOnce(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => !n.startsWith('.')).sort();
    } catch {
      names = [];
    }
    const pods: Pod[] = [];
    const seenNames = new Set<string>();
    for (const n of names) {
      const file = join(this.dir, n);
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      seenNames.add(n);
      let entry = this.cache.get(n);
      if (!entry || entry.mtimeMs !== st.mtimeMs || entry.size !== st.size) {
        entry = { mtimeMs: st.mtimeMs, size: st.size };
        try {
          entry.pod = staticPodFromManifest(await readFile(file, 'utf8'), file, this.nodeName);
        } catch (err) {
          entry.error = (err as Error).message;
          log.error({ file, err: entry.error }, 'could not process manifest file; the static pod is skipped');
        }
        this.cache.set(n, entry);
      }
      if (entry.pod) pods.push(entry.pod);
    }
    for (const n of [...this.cache.keys()]) if (!seenNames.has(n)) this.cache.delete(n);
    const sig = pods.map((p) => p.metadata!.uid).join(',');
    if (sig === this.last) return;
    this.last = sig;
    this.onChange(pods);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.closeWatch?.();
  }
}
