// Plays the kubelet's part in the API for controller tests (until the real kubelet runs in them):
// registers Ready nodes, moves pods bound to them to Running/Ready (or a phase a policy picks),
// and finishes graceful deletions of their pods, as a kubelet does once containers stopped.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../../src/client/apiError.js';
import type { RestClient } from '../../src/client/restClient.js';

export type PodOutcome = 'Running' | 'Pending' | 'Succeeded' | 'Failed' | 'NotReady';

export interface FakeKubeletOptions {
  nodes: string[];
  /** What happens to each pod bound to one of `nodes`; default Running and Ready. */
  outcome?(pod: Readonly<Pod>): PodOutcome;
  /** Delay before a pod's status is written, ms. */
  startDelayMs?: number;
  capacity?: { cpu: string; memory: string; pods: string };
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function nodeObject(name: string, capacity = { cpu: '8', memory: '32Gi', pods: '110' }): Node {
  const t = now();
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
    spec: {},
    status: {
      capacity,
      allocatable: capacity,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }],
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
    },
  };
}

export async function startFakeKubelet(client: RestClient, opts: FakeKubeletOptions): Promise<{ stop(): Promise<void> }> {
  const nodes = client.resource<Node>('', 'v1', 'nodes');
  const pods = client.resource<Pod>('', 'v1', 'pods');
  for (const n of opts.nodes) {
    try {
      await nodes.create(nodeObject(n, opts.capacity));
    } catch (err) {
      if (!(err as { code?: number }).code || (err as { code?: number }).code !== 409) throw err;
    }
  }
  const ac = new AbortController();
  const handled = new Map<string, string>();
  const mine = new Set(opts.nodes);
  let ip = 10;
  const handle = async (p: Pod) => {
    const node = p.spec?.nodeName;
    if (!node || !mine.has(node)) return;
    const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
    if (p.metadata?.deletionTimestamp) {
      await pods.delete(p.metadata.namespace, p.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      return;
    }
    if (handled.get(key) === p.metadata?.uid) return;
    handled.set(key, p.metadata!.uid!);
    if (opts.startDelayMs) await new Promise((r) => setTimeout(r, opts.startDelayMs));
    const outcome = opts.outcome?.(p) ?? 'Running';
    if (outcome === 'Pending') return;
    const t = now();
    const phase = outcome === 'NotReady' ? 'Running' : outcome;
    const ready = outcome === 'Running' ? 'True' : 'False';
    const terminated = outcome === 'Succeeded' || outcome === 'Failed';
    const status = {
      phase,
      hostIP: '127.0.0.1',
      podIP: `10.244.0.${(ip++ % 250) + 2}`,
      startTime: t,
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
        { type: 'Initialized', status: 'True', lastTransitionTime: t },
        { type: 'ContainersReady', status: ready, lastTransitionTime: t },
        { type: 'Ready', status: ready, lastTransitionTime: t },
      ],
      containerStatuses: (p.spec?.containers ?? []).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: '',
        ready: ready === 'True',
        restartCount: 0,
        started: !terminated,
        state: terminated ? { terminated: { exitCode: outcome === 'Succeeded' ? 0 : 1, reason: outcome === 'Succeeded' ? 'Completed' : 'Error', startedAt: t, finishedAt: t } } : { running: { startedAt: t } },
      })),
    };
    await pods.patch(p.metadata!.namespace, p.metadata!.name!, { status }, { type: 'merge', subresource: 'status' }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  };
  const loop = (async () => {
    let rv = '';
    while (!ac.signal.aborted) {
      try {
        if (!rv) {
          const list = await pods.list({});
          rv = list.metadata?.resourceVersion ?? '';
          for (const p of list.items) void handle(p).catch(() => undefined);
        }
        const w = await pods.watch({ resourceVersion: rv, signal: ac.signal, allowWatchBookmarks: true });
        for await (const ev of w) {
          rv = ev.object.metadata?.resourceVersion ?? rv;
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') void handle(ev.object).catch(() => undefined);
        }
      } catch {
        rv = '';
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  return {
    async stop() {
      ac.abort();
      await loop;
    },
  };
}
