// `k8ts agent --simulated --nodes N`: one process plays N kubelets whose pods go Running without
// containers (like kwok). The agent command parses its flags and calls runSimulatedAgent.
import { readFile } from 'node:fs/promises';
import type { Taint } from 'kubernetes-types/core/v1.js';
import { loadKubeconfigConfig, type ClientConfig } from '../client/config.js';
import { RestClient } from '../client/restClient.js';
import { parseStages } from '../kubelet/sim/podStages.js';
import { startSimulatedNodes, type SimulatedNodes, type SimulatedNodesOptions } from '../kubelet/sim/simulatedNodes.js';
import type { Stage } from '../kubelet/sim/stage.js';
import { logger } from '../util/log.js';

const log = logger('simulated-agent');

export interface SimulatedAgentOptions {
  /** A kubeconfig file; or `server` with `token` (and `caFile` / `insecureSkipTLSVerify`). */
  kubeconfig?: string;
  server?: string;
  token?: string;
  caFile?: string;
  insecureSkipTLSVerify?: boolean;
  /** How many nodes, or their names. */
  nodes: number | readonly string[];
  namePrefix?: string;
  /** `cpu=32,memory=256Gi,pods=110` or a map. */
  capacity?: string | Readonly<Record<string, string>>;
  /** `zone=a,team=x` or a map. */
  labels?: string | Readonly<Record<string, string>>;
  /** `key=value:NoSchedule` strings, as kubectl taint takes them, or Taint objects. */
  taints?: readonly (string | Taint)[];
  /** YAML files of stages that replace the default pod lifecycle. */
  stageFiles?: readonly string[];
  podCIDRs?: readonly string[];
  leaseDurationSeconds?: number;
  renewIntervalMs?: number;
  /** API client limits; default unlimited qps (bounded by the simulator's own concurrency). */
  qps?: number;
  burst?: number;
  signal?: AbortSignal;
}

export class SimulatedAgentConfigError extends Error {
  override readonly name = 'SimulatedAgentConfigError';
  readonly code = 'InvalidConfig';
}

/** `a=1,b=2` → {a: '1', b: '2'}; refuses entries without `=`. */
export function parseKeyValueList(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new SimulatedAgentConfigError(`invalid ${what} ${JSON.stringify(part)}: expected key=value`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** `key=value:Effect` or `key:Effect` → Taint, as `kubectl taint` spells them. */
export function parseTaint(text: string): Taint {
  const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(text.trim());
  if (!m) throw new SimulatedAgentConfigError(`invalid taint ${JSON.stringify(text)}: expected key[=value]:NoSchedule|PreferNoSchedule|NoExecute`);
  return { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3]! };
}

async function clientConfig(o: SimulatedAgentOptions): Promise<ClientConfig> {
  if (o.kubeconfig || !o.server) return loadKubeconfigConfig(o.kubeconfig ? { path: o.kubeconfig } : {});
  const c: ClientConfig = { server: o.server.replace(/\/+$/, '') };
  if (o.token) c.token = o.token;
  if (o.caFile) c.caPem = await readFile(o.caFile, 'utf8');
  if (o.insecureSkipTLSVerify) c.insecureSkipTLSVerify = true;
  return c;
}

/** Connects to the cluster and starts the simulated nodes; stop them with the returned handle (or `signal`). */
export async function runSimulatedAgent(o: SimulatedAgentOptions): Promise<SimulatedNodes> {
  const client = new RestClient(await clientConfig(o), { component: 'simulated-kubelet', qps: o.qps ?? -1, burst: o.burst ?? 1000, maxSockets: 64 });
  let stages: Stage[] | undefined;
  if (o.stageFiles?.length) {
    stages = [];
    for (const f of o.stageFiles) stages.push(...parseStages(await readFile(f, 'utf8')));
  }
  const opts: SimulatedNodesOptions = { client, nodes: o.nodes };
  if (o.namePrefix) opts.namePrefix = o.namePrefix;
  if (o.capacity) opts.capacity = typeof o.capacity === 'string' ? parseKeyValueList(o.capacity, 'capacity') : o.capacity;
  if (o.labels) opts.labels = typeof o.labels === 'string' ? parseKeyValueList(o.labels, 'label') : o.labels;
  if (o.taints) opts.taints = o.taints.map((t) => (typeof t === 'string' ? parseTaint(t) : t));
  if (stages) opts.stages = stages;
  if (o.podCIDRs) opts.podCIDRs = o.podCIDRs;
  if (o.leaseDurationSeconds) opts.leaseDurationSeconds = o.leaseDurationSeconds;
  if (o.renewIntervalMs) opts.renewIntervalMs = o.renewIntervalMs;
  let sim: SimulatedNodes;
  try {
    sim = await startSimulatedNodes(opts, o.signal);
  } catch (err) {
    client.close();
    throw err;
  }
  log.info({ nodes: sim.nodeNames.length, server: client.config.server }, 'simulated nodes running');
  return {
    nodeNames: sim.nodeNames,
    stats: () => sim.stats(),
    async stop() {
      await sim.stop();
      client.close();
    },
  };
}
