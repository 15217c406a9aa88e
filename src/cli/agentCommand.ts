// `k8ts agent` (a node joining a server, like k3s agent) and the node flags `k8ts server` shares
// with it. A real agent gets its kubelet credentials by TLS bootstrap with the server's node token;
// `--simulated --nodes N` registers N simulated nodes instead (like kwok).
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import type { Taint } from 'kubernetes-types/core/v1.js';
import type { AgentOptions, RuntimeChoice } from '../server/agent.js';

export interface NodeFlags {
  nodeName?: string;
  nodeIp?: string;
  runtime: RuntimeChoice;
  containerRuntimeEndpoint?: string;
  kubeletPort: number;
  clusterDns?: string;
  clusterDomain: string;
  maxPods: number;
  podMaxPids: number;
  podManifestPath?: string;
  evictionHard?: string;
  kubeReserved?: string;
  systemReserved?: string;
  nodeLabel: string[];
  nodeTaint: string[];
  cniBridge?: string;
  disableNetworkPolicy?: boolean;
}

function keyValues(text: string | undefined, flag: string): Record<string, string> | undefined {
  if (!text) return undefined;
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=<]+)[=<](.+)$/.exec(part);
    if (!m) throw new InvalidArgumentError(`${flag}: "${part}" is not key=value`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** `key=value:Effect` or `key:Effect`, as kubectl taint writes them. */
export function parseNodeTaint(text: string): Taint {
  const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`--node-taint: "${text}" is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute`);
  return { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3]! };
}

const repeat = (v: string, acc: string[]) => [...acc, v];

function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0 = any free port)');
  return n;
}

/** The node flags of `k8ts server` and `k8ts agent` (k3s's names where k3s has them, else the kubelet's). */
export function addNodeFlags(cmd: Command): Command {
  return cmd
    .option('--node-name <name>', 'name of this node (default: the host name)')
    .option('--node-ip <ip>', 'IP address the node advertises (default: the first host IPv4)')
    .option('--runtime <kind>', 'container runtime: auto (containerd when installed, started by k8ts), containerd, or process (built in)', (v: string) => {
      if (!['auto', 'containerd', 'process'].includes(v)) throw new InvalidArgumentError('must be auto, containerd or process');
      return v as RuntimeChoice;
    }, 'auto' as RuntimeChoice)
    .option('--container-runtime-endpoint <socket>', 'an already running CRI runtime to use instead (unix socket)')
    .option('--kubelet-port <port>', 'port of the kubelet API (0 = any free port)', port, 10250)
    .option('--cluster-dns <ips>', 'cluster DNS service IPs for pods (default: the 10th address of the service range, 10.96.0.10)')
    .option('--cluster-domain <domain>', 'cluster domain', 'cluster.local')
    .option('--max-pods <n>', 'pods this node runs at most', (v: string) => Number.parseInt(v, 10), 110)
    .option('--pod-max-pids <n>', 'processes (tasks) each pod may have, set as pids.max on its cgroup; -1 = no limit', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < -1) throw new InvalidArgumentError('must be -1 (no limit) or a number of processes');
      return n;
    }, -1)
    .option('--pod-manifest-path <dir>', 'static pod manifests (default <data-dir>/agent/pod-manifests)')
    .option('--eviction-hard <thresholds>', 'hard eviction thresholds, e.g. memory.available<100Mi,nodefs.available<10%')
    .option('--kube-reserved <list>', 'resources reserved for Kubernetes components, e.g. cpu=100m,memory=256Mi')
    .option('--system-reserved <list>', 'resources reserved for the system')
    .option('--node-label <key=value>', 'a label for the node (repeatable)', repeat, [] as string[])
    .option('--node-taint <key=value:Effect>', 'a taint the node registers with (repeatable)', repeat, [] as string[])
    .option('--cni-bridge <name>', 'host bridge of the pod network (default k8ts0; nodes sharing a host need their own)')
    .option('--disable-network-policy', 'do not enforce NetworkPolicy on this node (k3s\'s name; for a policy controller of your own)', false);
}

export function agentOptionsFrom(f: NodeFlags): Partial<AgentOptions> {
  const evictionHard = keyValues(f.evictionHard, '--eviction-hard');
  const kubeReserved = keyValues(f.kubeReserved, '--kube-reserved');
  const systemReserved = keyValues(f.systemReserved, '--system-reserved');
  const labels = keyValues(f.nodeLabel.join(','), '--node-label');
  return {
    ...(f.nodeName ? { nodeName: f.nodeName.toLowerCase() } : {}),
    ...(f.nodeIp ? { nodeIP: f.nodeIp } : {}),
    runtime: f.runtime,
    ...(f.containerRuntimeEndpoint ? { containerRuntimeEndpoint: f.containerRuntimeEndpoint } : {}),
    kubeletPort: f.kubeletPort,
    ...(f.clusterDns ? { clusterDNS: f.clusterDns.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    clusterDomain: f.clusterDomain,
    maxPods: f.maxPods,
    ...(f.podMaxPids > 0 ? { podPidsLimit: f.podMaxPids } : {}),
    ...(f.podManifestPath !== undefined ? { podManifestPath: f.podManifestPath } : {}),
    ...(evictionHard ? { evictionHard } : {}),
    ...(kubeReserved ? { kubeReserved } : {}),
    ...(systemReserved ? { systemReserved } : {}),
    ...(labels ? { nodeLabels: labels } : {}),
    ...(f.nodeTaint.length ? { registerWithTaints: f.nodeTaint.map(parseNodeTaint) } : {}),
    ...(f.cniBridge ? { bridge: f.cniBridge } : {}),
    ...(f.disableNetworkPolicy ? { disableNetworkPolicy: true } : {}),
  };
}

export interface AgentCommandOptions extends NodeFlags {
  server?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  dataDir: string;
  simulated: boolean;
  nodes: number;
  kubeconfig?: string;
}

export async function runAgentCommand(o: AgentCommandOptions): Promise<void> {
  const fail = (msg: string): never => {
    process.stderr.write(`k8ts agent: ${msg}\n`);
    process.exit(1);
  };
  const token = o.token ?? (o.tokenFile ? (await readFile(o.tokenFile, 'utf8')).trim() : undefined);
  const ac = new AbortController();
  const stopping = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  if (o.simulated) {
    const { runSimulatedAgent } = await import('./simulatedAgent.js');
    if (!o.kubeconfig && !(o.server && token)) fail('--simulated needs --kubeconfig, or --server with --token');
    const sim = await runSimulatedAgent({
      ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
      ...(o.server ? { server: o.server } : {}),
      ...(token ? { token } : {}),
      ...(o.caFile ? { caFile: o.caFile } : { insecureSkipTLSVerify: !o.kubeconfig }),
      nodes: o.nodes,
      ...(o.nodeName ? { namePrefix: o.nodeName } : {}),
      signal: ac.signal,
    });
    process.stdout.write(`k8ts agent: ${o.nodes} simulated nodes registered\n`);
    await stopping;
    ac.abort();
    await (sim as { stop?: () => Promise<void> }).stop?.();
    process.exit(0);
  }
  if (!o.server || !token) fail('--server and --token (or --token-file) are required; the token is in the server\'s <data-dir>/server/node-token');
  const nodeName = (o.nodeName ?? hostname()).toLowerCase();
  const { bootstrapAgentCredentials, kubeletClientCertificateStore } = await import('../server/agentBootstrap.js');
  const { loadKubeconfigConfig } = await import('../client/config.js');
  const { RestClient } = await import('../client/restClient.js');
  const { startAgent } = await import('../server/agent.js');
  const { defaultAdvertiseAddress } = await import('../server/hostAddress.js');
  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    const creds = await bootstrapAgentCredentials({ server: o.server!, token: token!, dataDir: o.dataDir, nodeName, ...(o.caFile ? { caFile: o.caFile } : {}), signal: ac.signal });
    const config = await loadKubeconfigConfig({ path: creds.kubeconfig });
    // The pair in kubelet-client-current.pem, split (the kubeconfig names that one file for both);
    // a kubeconfig from before rotation existed carries its pair inline.
    const store = kubeletClientCertificateStore(o.dataDir);
    const pair = (await store.current()) ?? (config.certPem && config.keyPem ? { certPem: config.certPem, keyPem: config.keyPem } : undefined);
    const client = new RestClient(pair ? { ...config, certPem: pair.certPem, keyPem: pair.keyPem } : config, { component: 'kubelet', qps: 50, burst: 100 });
    agent = await startAgent({
      nodeIP: defaultAdvertiseAddress(),
      ...agentOptionsFrom(o),
      nodeName,
      client,
      dataDir: o.dataDir,
      clientCAPem: creds.caPem,
      ...(pair ? { clientCertificate: { certPem: pair.certPem, keyPem: pair.keyPem, store } } : {}),
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  process.stdout.write(`k8ts agent: node ${nodeName} joined ${o.server}\n`);
  await stopping;
  await agent.stop();
  process.exit(0);
}
