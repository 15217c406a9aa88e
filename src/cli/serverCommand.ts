// `k8ts server` from the command line: starts everything, prints where the kubeconfig is,
// and shuts down cleanly on SIGINT/SIGTERM.
import { startServer } from '../server/server.js';
import { agentOptionsFrom, type NodeFlags } from './agentCommand.js';

export interface ServerCommandOptions extends NodeFlags {
  dataDir: string;
  httpsListenPort: number;
  bindAddress: string;
  advertiseAddress?: string;
  writeKubeconfig?: string;
  datastoreEndpoint?: string;
  datastoreCafile?: string;
  datastoreCertfile?: string;
  datastoreKeyfile?: string;
  datastoreListen?: string;
  tlsSan: string[];
  tokenAuthFile?: string;
  disableAgent: boolean;
  disableScheduler: boolean;
  disableControllerManager: boolean;
  clusterCidr: string;
  disable: string[];
  servicelbPool: string[];
  serviceClusterIpRange: string;
  serviceNodePortRange: string;
  serviceCidr?: string;
  disableKubeProxy: boolean;
  etcdCompactionInterval: number;
  clusterSigningDuration: number;
}

export async function runServerCommand(opts: ServerCommandOptions): Promise<void> {
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ ...opts, tlsSan: opts.tlsSan, compactionIntervalMs: opts.etcdCompactionInterval, clusterCIDR: opts.clusterCidr, disable: opts.disable, serviceLBPool: opts.servicelbPool, serviceClusterIPRange: opts.serviceCidr ?? opts.serviceClusterIpRange, serviceNodePortRange: opts.serviceNodePortRange, clusterSigningDurationMs: opts.clusterSigningDuration, agent: agentOptionsFrom(opts) });
  } catch (err) {
    process.stderr.write(`k8ts server: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let etcd: { url: string; close(): Promise<void> } | undefined;
  if (opts.datastoreListen) {
    if (opts.datastoreEndpoint && !opts.datastoreEndpoint.startsWith('sqlite')) {
      process.stderr.write('k8ts server: --datastore-listen serves the embedded datastore; it cannot be used with an etcd --datastore-endpoint\n');
    } else {
      const { startEtcdServer } = await import('../storage/etcd/server.js');
      etcd = await startEtcdServer(server.kv, { listen: opts.datastoreListen, name: 'k8ts' });
    }
  }
  process.stdout.write(
    `k8ts server is running at ${server.url}\n` +
      `kubeconfig: ${server.kubeconfig}\n` +
      `  export KUBECONFIG=${server.kubeconfig}\n` +
      `node token (for k8ts agent --token): ${server.nodeToken}\n` +
      (server.agent ? `node ${server.agent.kubelet.nodeName} runs containers with ${server.agent.runtimeEndpoint}\n` : '') +
      (etcd ? `etcd v3 endpoint of the datastore: ${etcd.url}\n` : ''),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await etcd?.close();
  await server.close();
  process.exit(0);
}
