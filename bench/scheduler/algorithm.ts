// The scheduling algorithm alone, in process, no API: 5,000 nodes, 10,000 pods, the default
// plugins, a binder that returns at once. Shows what the scheduler's own CPU allows, apart from
// HTTP, JSON and the API server. Usage: node dist/bench/scheduler/algorithm.js [nodes] [pods]
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { SchedulerCache } from '../../src/scheduler/cache.js';
import { parseSchedulerConfig } from '../../src/scheduler/config.js';
import { Framework } from '../../src/scheduler/framework/runtime.js';
import type { FrameworkHandle } from '../../src/scheduler/framework/types.js';
import { Nominator } from '../../src/scheduler/nominator.js';
import { pluginRegistry } from '../../src/scheduler/plugins/registry.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import type { SchedulerAPI } from '../../src/scheduler/api.js';
import { logger } from '../../src/util/log.js';

const N = Number(process.argv[2] ?? 5000);
const M = Number(process.argv[3] ?? 10000);
const empty = { get: () => undefined, list: () => [] };

async function main(): Promise<void> {
  const cache = new SchedulerCache();
  const nominator = new Nominator();
  let bound = 0;
  const pods = new Map<string, Pod>();
  const api: SchedulerAPI = {
    bind: async () => {
      bound++;
    },
    patchPodStatus: async () => undefined,
    deletePod: async () => undefined,
    event: () => undefined,
  };
  const handle: FrameworkHandle = {
    snapshot: () => cache,
    namespaces: empty,
    services: empty,
    replicationControllers: empty,
    replicaSets: empty,
    statefulSets: empty,
    persistentVolumeClaims: empty,
    persistentVolumes: empty,
    storageClasses: empty,
    csiNodes: empty,
    podDisruptionBudgets: empty,
  };
  const frameworks: Framework[] = [];
  const registry = pluginRegistry({ api, nominator, framework: () => frameworks[0]! });
  const cfg = parseSchedulerConfig(undefined);
  frameworks.push(new Framework(cfg.profiles[0]!, registry('default-scheduler'), handle));
  const sched = new Scheduler({ profiles: frameworks, api, log: logger('bench'), cache, nominator, currentPod: (ns, n) => pods.get(`${ns}/${n}`) });
  for (let i = 0; i < N; i++) {
    const name = `node-${i}`;
    const node: Node = {
      metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': `zone-${i % 10}` } },
      spec: {},
      status: { allocatable: { cpu: '32', memory: '128Gi', pods: '110' }, images: [{ names: ['registry.k8s.io/pause:3.10'], sizeBytes: 320000 }] },
    };
    sched.onNodeAdd(node);
  }
  for (let i = 0; i < M; i++) {
    const p: Pod = {
      metadata: { name: `pod-${i}`, namespace: 'default', uid: `u${i}`, labels: { app: 'bench' } },
      spec: { schedulerName: 'default-scheduler', priority: 0, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '100m', memory: '500Mi' } } }] },
    };
    pods.set(`default/pod-${i}`, p);
    sched.onPodAdd(p);
  }
  const t0 = performance.now();
  for (let i = 0; i < M; i++) {
    const info = await sched.queue.pop();
    await sched.scheduleOne(info!);
  }
  await new Promise((r) => setTimeout(r, 10));
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`${N} nodes, ${M} pods: ${bound} bound in ${s.toFixed(2)} s = ${Math.round(M / s)} pods/s (algorithm only); heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB\n`);
}

void main();
