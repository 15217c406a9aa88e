// `k8ts controller-manager`: the controllers as their own process, like kube-controller-manager.
import { readFile } from 'node:fs/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadKubeconfigConfig } from '../client/config.js';
import { RestClient } from '../client/restClient.js';
import type { ControllerManagerOptions } from '../controllers/controller.js';
import { selectControllers, startControllerManager } from '../controllers/manager.js';
import { startComponentServer } from '../util/componentServer.js';

export interface ControllerManagerCommandOptions {
  kubeconfig?: string;
  controllers: string[];
  leaderElect: boolean;
  securePort: number;
  bindAddress: string;
  rootCaFile?: string;
  clusterSigningCertFile?: string;
  clusterSigningKeyFile?: string;
  clusterSigningDuration: number;
  clusterCidr: string;
  servicelbPool: string[];
  allocateNodeCidrs: boolean;
  nodeCidrMaskSize: number;
  nodeMonitorGracePeriod: number;
  nodeMonitorPeriod: number;
  nodeEvictionRate: number;
  secondaryNodeEvictionRate: number;
  terminatedPodGcThreshold: number;
  concurrentDeploymentSyncs: number;
  concurrentReplicasetSyncs: number;
  concurrentJobSyncs: number;
  concurrentEndpointSyncs: number;
  concurrentServiceEndpointSyncs: number;
  concurrentGcSyncs: number;
  concurrentNamespaceSyncs: number;
  concurrentStatefulsetSyncs: number;
  concurrentDaemonsetSyncs: number;
  concurrentCronJobSyncs: number;
  kubeApiQps: number;
  kubeApiBurst: number;
}

export async function runControllerManagerCommand(opts: ControllerManagerCommandOptions): Promise<void> {
  try {
    selectControllers(opts.controllers);
  } catch (err) {
    process.stderr.write(`Error: --controllers: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const options: Partial<ControllerManagerOptions> = {
    clusterCIDR: opts.clusterCidr,
    ...(opts.servicelbPool.length ? { serviceLBPool: opts.servicelbPool } : {}),
    allocateNodeCIDRs: opts.allocateNodeCidrs,
    nodeCIDRMaskSize: opts.nodeCidrMaskSize,
    nodeMonitorGracePeriodMs: opts.nodeMonitorGracePeriod,
    nodeMonitorPeriodMs: opts.nodeMonitorPeriod,
    nodeEvictionRate: opts.nodeEvictionRate,
    secondaryNodeEvictionRate: opts.secondaryNodeEvictionRate,
    terminatedPodGCThreshold: opts.terminatedPodGcThreshold,
    concurrentDeploymentSyncs: opts.concurrentDeploymentSyncs,
    concurrentReplicaSetSyncs: opts.concurrentReplicasetSyncs,
    concurrentJobSyncs: opts.concurrentJobSyncs,
    concurrentEndpointSyncs: opts.concurrentEndpointSyncs,
    concurrentServiceEndpointSyncs: opts.concurrentServiceEndpointSyncs,
    concurrentGCSyncs: opts.concurrentGcSyncs,
    concurrentNamespaceSyncs: opts.concurrentNamespaceSyncs,
    concurrentStatefulSetSyncs: opts.concurrentStatefulsetSyncs,
    concurrentDaemonSetSyncs: opts.concurrentDaemonsetSyncs,
    concurrentCronJobSyncs: opts.concurrentCronJobSyncs,
    ...(opts.rootCaFile ? { rootCAPem: await readFile(opts.rootCaFile, 'utf8') } : {}),
    clusterSigningDurationMs: opts.clusterSigningDuration,
  };
  if (!!opts.clusterSigningCertFile !== !!opts.clusterSigningKeyFile) {
    process.stderr.write('Error: --cluster-signing-cert-file and --cluster-signing-key-file go together\n');
    process.exit(1);
  }
  if (opts.clusterSigningCertFile && opts.clusterSigningKeyFile) {
    const { loadCA } = await import('../pki/ca.js');
    try {
      options.signingCA = await loadCA(await readFile(opts.clusterSigningCertFile, 'utf8'), await readFile(opts.clusterSigningKeyFile, 'utf8'));
    } catch (err) {
      process.stderr.write(`Error: --cluster-signing-cert-file/--cluster-signing-key-file: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  if (options.serviceLBPool) {
    const { AddressPool } = await import('../cloudprovider/servicelb/pool.js');
    try {
      AddressPool.parse(options.serviceLBPool);
    } catch (err) {
      process.stderr.write(`Error: --servicelb-pool: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  const config = await loadKubeconfigConfig(opts.kubeconfig ? { path: opts.kubeconfig } : {});
  if (!options.rootCAPem && config.caPem) options.rootCAPem = config.caPem;
  const client = new RestClient(config, { component: 'kube-controller-manager', qps: opts.kubeApiQps, burst: opts.kubeApiBurst });
  const running = await startControllerManager({ client, controllers: opts.controllers, options, leaderElect: opts.leaderElect });
  const processMetrics = new Registry();
  collectDefaultMetrics({ register: processMetrics });
  const server = opts.securePort > 0 ? await startComponentServer({ bindAddress: opts.bindAddress, port: opts.securePort, registries: [processMetrics], readyChecks: { 'controllers-started': () => running.ready() } }) : undefined;
  process.stderr.write(`k8ts controller-manager running ${running.controllers.length} controllers${server ? `; health and metrics on https://${opts.bindAddress}:${server.port}` : ''}\n`);
  // A candidate waiting for leadership has only unref'd timers; keep the process alive until stopped.
  const keepAlive = setInterval(() => undefined, 60_000);
  const stop = async () => {
    clearInterval(keepAlive);
    // In-flight requests may not all finish promptly under load; exit within a few seconds regardless.
    setTimeout(() => process.exit(0), 5000).unref();
    await running.stop();
    await server?.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
