// `k8ts server`: the all-in-one single-node server, like k3s. Today it runs the datastore and the
// API server (with the API server's own bootstrap loops); the scheduler, controllers and the
// agent (kubelet, proxy) join it as their issues land.

import { hostname } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { ensureKubeletClientCertificate, ensureServerPKI } from '../pki/files.js';
import { writeKubeconfig } from '../pki/kubeconfig.js';
import { openStore } from '../storage/open.js';
import type { KV } from '../storage/kv.js';
import type { KVStore } from '../storage/store.js';
import { logger } from '../util/log.js';
import { ApiServer, type UserInfo } from '../apiserver/server.js';
import { admissionChain, defaultTolerationSecondsAdmission, limitRangerAdmission, priorityAdmission, runtimeClassAdmission, serviceAccountAdmission } from '../apiserver/admission.js';
import { bootstrapSystemObjects } from '../apiserver/bootstrap.js';
import { DEFAULT_SERVICE_CLUSTER_IP_RANGE, firstServiceIP, parseServiceNetwork } from '../apiserver/services/config.js';
import { apiServerHooks } from '../apiserver/hooks.js';
import { CustomResourceDefinitions } from '../apiserver/crds.js';
import { createAuthentication } from '../apiserver/authentication.js';
import { certificateSigningRequestStrategy, certificateSubjectRestriction } from '../apiserver/csr.js';
import { defaultAdvertiseAddress } from './hostAddress.js';
import { ensureNodeToken } from './nodeToken.js';
import { disabledControllers, splitList } from './disable.js';
import { AddonManager } from './addons/addonManager.js';
import { addonObjects, clusterDNSAddress } from './addons/manifests.js';
import { builtinImageReference, currentInstall } from '../kubelet/images/builtin.js';

const log = logger('server');

export interface ServerOptions {
  dataDir: string;
  /** --cluster-signing-duration: longest certificate csrsigning issues (default 1 year). */
  clusterSigningDurationMs?: number;
  httpsListenPort: number;
  bindAddress: string;
  advertiseAddress?: string | undefined;
  writeKubeconfig?: string | undefined;
  datastoreEndpoint?: string | undefined;
  datastoreCafile?: string | undefined;
  datastoreCertfile?: string | undefined;
  datastoreKeyfile?: string | undefined;
  tlsSan?: string[] | undefined;
  tokenAuthFile?: string | undefined;
  disableAgent?: boolean | undefined;
  /** `--service-cluster-ip-range`: one CIDR or an IPv4,IPv6 pair (default 10.96.0.0/12). */
  serviceClusterIPRange?: string | undefined;
  /** `--service-node-port-range` (default 30000-32767). */
  serviceNodePortRange?: string | undefined;
  /** How often the ClusterIP/NodePort repair loops run (default 3 minutes, as upstream). */
  serviceRepairIntervalMs?: number | undefined;
  /** Like k3s's --disable-scheduler: run no scheduler in this process. */
  disableScheduler?: boolean | undefined;
  /** Like k3s's --disable-controller-manager. */
  disableControllerManager?: boolean | undefined;
  /** Pod network range; nodes get podCIDRs from it. */
  clusterCIDR?: string | undefined;
  /** Like k3s's --disable: packaged components not to run (`servicelb`, `local-storage`); see disable.ts. */
  disable?: readonly string[] | undefined;
  /** ServiceLB's addresses (IPs, CIDRs, FIRST-LAST); absent = the nodes' addresses. */
  serviceLBPool?: readonly string[] | undefined;
  /** Like k3s's --disable-kube-proxy: no kube-proxy DaemonSet. */
  disableKubeProxy?: boolean | undefined;
  /** The node agent (kubelet) of this server; see AgentOptions. */
  agent?: Partial<Omit<import('./agent.js').AgentOptions, 'client' | 'dataDir' | 'clientCAPem' | 'servingCA'>> | undefined;
  /** Like kube-apiserver's --etcd-compaction-interval: history older than this is compacted this often; 0 = never. */
  compactionIntervalMs?: number | undefined;
}

export interface RunningK8tsServer {
  kubeconfig: string;
  url: string;
  /** Where the node token for `k8ts agent --token` is. */
  nodeToken: string;
  agent?: import('./agent.js').RunningAgent;
  /** The datastore engine, for serving it over etcd's API. */
  kv: KV;
  close(): Promise<void>;
}

export { defaultAdvertiseAddress };

export async function startServer(opts: ServerOptions): Promise<RunningK8tsServer> {
  const t0 = performance.now();
  // Bad flags fail before anything is created.
  const withoutControllers = disabledControllers(opts.disable ?? []);
  const serviceLBPool = splitList(opts.serviceLBPool ?? []);
  if (serviceLBPool.length) {
    const { AddressPool } = await import('../cloudprovider/servicelb/pool.js');
    try {
      AddressPool.parse(serviceLBPool);
    } catch (err) {
      throw new Error(`--servicelb-pool: ${(err as Error).message}`);
    }
  }
  // Bad ranges stop the server before anything starts, with the flag and the fix in the message.
  const serviceNetwork = parseServiceNetwork(opts.serviceClusterIPRange, opts.serviceNodePortRange);
  // The `kubernetes` Service takes the first address of the primary range, as upstream.
  const serviceIP = firstServiceIP(serviceNetwork);
  const advertise = opts.advertiseAddress ?? (opts.bindAddress === '127.0.0.1' ? '127.0.0.1' : defaultAdvertiseAddress());
  const pki = await ensureServerPKI(join(opts.dataDir, 'tls'), {
    hostname: hostname().toLowerCase(),
    serviceIP,
    bindAddress: opts.bindAddress,
    extraSANs: [...(opts.tlsSan ?? []), advertise],
  });
  const kubeletClient = await ensureKubeletClientCertificate(join(opts.dataDir, 'tls'), pki.ca);
  const store: KVStore = await openStore({
    endpoint: opts.datastoreEndpoint,
    dataDir: opts.dataDir,
    caFile: opts.datastoreCafile,
    certFile: opts.datastoreCertfile,
    keyFile: opts.datastoreKeyfile,
    store: {
      compaction: opts.compactionIntervalMs === 0 ? false : { intervalMs: opts.compactionIntervalMs ?? 5 * 60_000, retentionMs: opts.compactionIntervalMs ?? 5 * 60_000 },
      onCompactionError: (err) => log.warn({ err }, 'automatic compaction failed'),
    },
  });
  // Health of in-process components, for `kubectl get componentstatuses`.
  const componentHealth: Record<string, (() => boolean) | undefined> = {};
  // The node token agents join with (`k8ts agent --token`), kept across restarts like k3s's.
  const nodeToken = await ensureNodeToken(opts.dataDir, pki.ca.certPem);
  const authn = await createAuthentication({ pki, tokenAuthFile: opts.tokenAuthFile, store, nodeToken });
  let api: ApiServer;
  const registryFor = (group: string, plural: string) => api.registryFor(group, plural);
  const hooks = apiServerHooks(() => api);
  api = new ApiServer({
    store,
    tls: { cert: pki.apiserver.certPem, key: pki.apiserver.keyPem, ca: pki.ca.certPem },
    authenticate: (req: IncomingMessage): Promise<UserInfo | undefined> => authn.authenticate(req, req.socket as TLSSocket),
    hooks: {
      ...hooks,
      admit: admissionChain([
        serviceAccountAdmission,
        defaultTolerationSecondsAdmission,
        priorityAdmission(registryFor),
        limitRangerAdmission(registryFor),
        runtimeClassAdmission(registryFor),
        certificateSigningRequestStrategy,
        certificateSubjectRestriction,
      ]),
    },
    extra: {
      tokenRequest: (req, body) => authn.tokenRequest(req, body, api),
      tokenReview: (body) => authn.tokenReview(body),
      componentStatuses: async () => {
        const healthy = await store
          .currentRevision()
          .then(() => true)
          .catch(() => false);
        const components = Object.entries(componentHealth)
          .filter(([, ready]) => ready !== undefined)
          .map(([name, ready]) => {
            const ok = ready!();
            return { kind: 'ComponentStatus', apiVersion: 'v1', metadata: { name }, conditions: [{ type: 'Healthy', status: ok ? 'True' : 'False', message: ok ? 'ok' : `${name} is not ready` }] };
          });
        return [
          ...components,
          {
            kind: 'ComponentStatus',
            apiVersion: 'v1',
            metadata: { name: 'etcd-0' },
            conditions: [{ type: 'Healthy', status: healthy ? 'True' : 'False', message: healthy ? 'ok' : 'the datastore does not answer' }],
          },
        ];
      },
    },
    openapi: hooks.openapi,
    serviceNetwork,
    kubeletClient: { certPem: kubeletClient.certPem, keyPem: kubeletClient.keyPem },
  });
  // Every resource's watch cache starts loading now, in the background: requests that need a
  // cache wait for it, and watches older than a cache's start are served from the store.
  void api.warm().catch((err: unknown) => log.warn({ err }, 'a watch cache failed to load'));
  const { port } = await api.listen(opts.httpsListenPort, opts.bindAddress);
  // Repair the allocation ranges from the stored Services before anything allocates (upstream's order).
  await api.startServiceRepair(opts.serviceRepairIntervalMs);
  await bootstrapSystemObjects(api, { advertiseAddress: advertise, port, serviceIP });
  const crds = new CustomResourceDefinitions(api);
  await crds.ready();
  crds.start();
  const host = opts.bindAddress === '0.0.0.0' || opts.bindAddress === '::' ? '127.0.0.1' : opts.bindAddress;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const kubeconfig = opts.writeKubeconfig ?? join(opts.dataDir, 'kubeconfig.yaml');
  await writeKubeconfig(kubeconfig, {
    name: 'k8ts',
    server: url,
    caPem: pki.ca.certPem,
    certPem: pki.admin.certPem,
    keyPem: pki.admin.keyPem,
  });
  // The control-plane components are API clients over loopback HTTPS, each with its own identity,
  // exactly as if they ran in their own processes (architecture rule 1).
  const componentCredentials = new Map<string, { certPem: string; keyPem: string }>();
  const componentClient = async (user: string, component: string, groups: string[] = []) => {
    const { issueClientCertificate } = await import('../pki/ca.js');
    const { RestClient } = await import('../client/restClient.js');
    const cert = await issueClientCertificate(pki.ca, { user, groups });
    componentCredentials.set(user, cert);
    return new RestClient({ server: url, caPem: pki.ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem }, { component, qps: -1 });
  };
  let scheduler: { ready(): boolean; stop(): Promise<void> } | undefined;
  if (!opts.disableScheduler) {
    const { startScheduler } = await import('../scheduler/run.js');
    const { parseSchedulerConfig } = await import('../scheduler/config.js');
    scheduler = await startScheduler({ client: await componentClient('system:kube-scheduler', 'kube-scheduler'), config: parseSchedulerConfig(undefined), leaderElect: false });
  }
  componentHealth.scheduler = scheduler ? () => scheduler.ready() : undefined;
  let controllerManager: { ready(): boolean; stop(): Promise<void> } | undefined;
  if (!opts.disableControllerManager) {
    const { startControllerManager } = await import('../controllers/manager.js');
    controllerManager = await startControllerManager({
      client: await componentClient('system:kube-controller-manager', 'kube-controller-manager'),
      controllers: ['*', ...withoutControllers.map((c) => `-${c}`)],
      options: { ...(serviceLBPool.length ? { serviceLBPool } : {}), rootCAPem: pki.ca.certPem, signingCA: pki.ca, ...(opts.clusterSigningDurationMs ? { clusterSigningDurationMs: opts.clusterSigningDurationMs } : {}), localPathStorageRoot: join(opts.dataDir, 'storage'), ...(opts.disableAgent ? {} : { localNodeName: (opts.agent?.nodeName ?? hostname()).toLowerCase() }), ...(opts.clusterCIDR ? { clusterCIDR: opts.clusterCIDR } : {}) },
      leaderElect: false,
    });
  }
  componentHealth['controller-manager'] = controllerManager ? () => controllerManager.ready() : undefined;
  // The add-ons (RuntimeClass k8ts, cluster DNS, kube-proxy) go in before the node starts syncing pods.
  const dnsServiceIP = clusterDNSAddress(opts.serviceClusterIPRange ?? DEFAULT_SERVICE_CLUSTER_IP_RANGE);
  const addons = new AddonManager({
    client: await componentClient('system:k8ts-addon-manager', 'addon-manager'),
    addons: addonObjects(
      {
        image: builtinImageReference(currentInstall().version),
        clusterDomain: opts.agent?.clusterDomain ?? 'cluster.local',
        dnsServiceIP,
        clusterCIDR: opts.clusterCIDR ?? '10.244.0.0/16',
        apiServerURL: `https://${advertise.includes(':') ? `[${advertise}]` : advertise}:${port}`,
      },
      new Set([...(opts.disable ?? []), ...(opts.disableKubeProxy ? ['kube-proxy'] : [])]),
    ),
  });
  addons.start();
  let agent: import('./agent.js').RunningAgent | undefined;
  if (!opts.disableAgent) {
    const { startAgent } = await import('./agent.js');
    const nodeName = (opts.agent?.nodeName ?? hostname()).toLowerCase();
    const { kubeletClientCertificateStore } = await import('./agentBootstrap.js');
    const kubeletClient = await componentClient(`system:node:${nodeName}`, 'kubelet', ['system:nodes']);
    agent = await startAgent({
      controlPlane: true,
      nodeIP: advertise,
      clusterDNS: [dnsServiceIP],
      ...opts.agent,
      nodeName,
      client: kubeletClient,
      // The in-process kubelet renews its client certificate like any agent's (rotateCertificates).
      clientCertificate: { ...componentCredentials.get(`system:node:${nodeName}`)!, store: kubeletClientCertificateStore(opts.dataDir) },
      dataDir: opts.dataDir,
      clientCAPem: pki.ca.certPem,
      servingCA: pki.ca,
    });
  }
  log.info({ url, kubeconfig, nodeTokenFile: nodeToken.paths[0], ms: Math.round(performance.now() - t0) }, 'k8ts server is ready');
  return {
    kubeconfig,
    url,
    kv: store.kv,
    nodeToken: nodeToken.paths[0]!,
    ...(agent ? { agent } : {}),
    close: async () => {
      await addons.stop();
      await agent?.stop();
      await scheduler?.stop();
      await controllerManager?.stop();
      crds.stop();
      await api.close();
      await store.close();
    },
  };
}
