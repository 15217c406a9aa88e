// The node agent (like k3s's agent): a container runtime (containerd through CRI — the one the user
// points at, or one k8ts starts itself — or the built-in process runtime), the kubelet with its
// volume and probe managers, and the kubelet API on 10250. Used by `k8ts server` for its own node
// and by `k8ts agent` on other nodes.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Taint } from 'kubernetes-types/core/v1.js';
import { createCA, issueServingCertificate, type CertificateAuthority } from '../pki/ca.js';
import type { RestClient } from '../client/restClient.js';
import { logger } from '../util/log.js';
import { KubeletEnvironment } from '../kubelet/environment.js';
import { Kubelet, type PodLifecycleHooks } from '../kubelet/kubelet.js';
import type { ContainerRuntime } from '../kubelet/runtime/types.js';
import { VolumeManager } from '../kubelet/volumes/manager.js';
import type { PodVolumes } from '../kubelet/volumes/types.js';
import { startKubeletServer, type KubeletServer } from '../kubelet/server/server.js';
import { ProbeManager } from '../kubelet/prober/manager.js';
import { HandlerRunner } from '../kubelet/lifecycle/handlers.js';
import type { EventSink } from '../kubelet/prober/prober.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Registry } from 'prom-client';
import { ClientCertificateManager } from '../kubelet/certificate/manager.js';
import type { CertificateFileStore } from '../kubelet/certificate/store.js';

const log = logger('agent');

export type RuntimeChoice = 'auto' | 'containerd' | 'process';

export interface AgentOptions {
  client: RestClient;
  dataDir: string;
  nodeName: string;
  nodeIP: string;
  /** auto: containerd when installed (k8ts starts it), else the built-in process runtime. */
  runtime?: RuntimeChoice;
  /** --container-runtime-endpoint: an already running CRI runtime (unix socket). */
  containerRuntimeEndpoint?: string | undefined;
  controlPlane?: boolean;
  clusterDNS?: string[];
  clusterDomain?: string;
  /** Kubelet API port (10250; 0 = any free port) and address. */
  kubeletPort?: number;
  kubeletAddress?: string;
  /** The cluster CA: authenticates clients of the kubelet API (the API server). */
  clientCAPem: string;
  /** Signs the kubelet's serving certificate; without it the kubelet makes a self-signed one, as upstream. */
  servingCA?: CertificateAuthority;
  maxPods?: number;
  /** --pod-max-pids: pids.max of every pod's cgroup; -1 or absent = no limit. */
  podPidsLimit?: number;
  kubeReserved?: Record<string, string>;
  systemReserved?: Record<string, string>;
  evictionHard?: Record<string, string>;
  podManifestPath?: string;
  nodeLabels?: Record<string, string>;
  registerWithTaints?: Taint[];
  /** The pod network bridge on this node (default k8ts0; agents sharing a host need distinct ones). */
  bridge?: string;
  /** Prefix of netns names and other host-global names (agents sharing a host need distinct ones). */
  namePrefix?: string;
  /**
   * The kubelet's client certificate (that of `client`) and where renewed ones go: given, the kubelet
   * rotates it before it expires (upstream rotateCertificates: true).
   */
  clientCertificate?: { certPem: string; keyPem: string; store: CertificateFileStore; expirationSeconds?: number };
  /** Do not enforce NetworkPolicy on this node (`--disable-network-policy`, as k3s). */
  disableNetworkPolicy?: boolean;
}

export interface RunningAgent {
  kubelet: Kubelet;
  runtime: ContainerRuntime;
  kubeletServer: KubeletServer;
  /** `unix://…` of the node's CRI socket (containerd's, or the one serving the process runtime). */
  runtimeEndpoint: string;
  /** Imports an image archive into the node's runtime (`k8ts images import`). */
  importImage(file: string): Promise<string[]>;
  stop(): Promise<void>;
}

export function agentDir(dataDir: string): string {
  return join(dataDir, 'agent');
}

function which(bin: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((d) => existsSync(join(d, bin)));
}

interface StartedRuntime {
  runtime: ContainerRuntime;
  endpoint: string;
  importImage(file: string): Promise<string[]>;
  close(): Promise<void>;
}

/** The built-in process runtime, its image store serving the built-in image too; `network` ties it to another runtime's pod network. */
async function startProcessRuntime(o: AgentOptions, root: string, network?: { ipamDataDir: string }) {
  const { FileImageStore } = await import('../kubelet/images/store.js');
  const { BuiltinImageStore } = await import('../kubelet/images/builtin.js');
  const { ProcessRuntime } = await import('../kubelet/runtime/process/runtime.js');
  const images = new BuiltinImageStore(new FileImageStore({ root: join(root, 'images') }), { root: join(root, 'images', 'builtin') });
  const runtime = new ProcessRuntime({
    root: join(root, 'runtime'),
    images,
    cni: { confDir: join(root, 'cni', 'net.d'), ...(o.bridge ? { bridge: o.bridge } : {}), ...(network ? { ipamDataDir: network.ipamDataDir } : {}) },
    ...(o.namePrefix ? { namePrefix: o.namePrefix } : {}),
  });
  return { runtime, images };
}

/**
 * On a containerd node the RuntimeClass handler `k8ts` still runs pods with the built-in process
 * runtime (the built-in image, host-network system pods); both share the node's pod network.
 */
async function withK8tsHandler(o: AgentOptions, root: string, started: StartedRuntime, ipamDataDir: string): Promise<StartedRuntime> {
  const { RuntimeHandlerRouter } = await import('../kubelet/runtime/handlerRouter.js');
  const { K8TS_HANDLER } = await import('../kubelet/runtime/process/runtime.js');
  const proc = await startProcessRuntime(o, root, { ipamDataDir });
  if (!proc.runtime.handlers.includes(K8TS_HANDLER)) {
    log.warn('neither runc, crun nor unshare is installed: pods of RuntimeClass k8ts cannot run on this node');
    await proc.runtime.close();
    return started;
  }
  const router = new RuntimeHandlerRouter(started.runtime, [{ handlers: [K8TS_HANDLER], runtime: proc.runtime }]);
  return {
    ...started,
    runtime: router,
    close: async () => {
      await proc.runtime.close();
      await started.close();
    },
  };
}

async function startRuntime(o: AgentOptions, root: string): Promise<StartedRuntime> {
  const choice = o.containerRuntimeEndpoint ? 'endpoint' : (o.runtime ?? 'auto') === 'auto' ? (which('containerd') ? 'containerd' : 'process') : o.runtime!;
  if (choice === 'endpoint') {
    const { CriRuntime } = await import('../kubelet/runtime/cri/runtime.js');
    const { importImageArchive } = await import('../kubelet/runtime/cri/importImage.js');
    const endpoint = o.containerRuntimeEndpoint!.startsWith('unix://') ? o.containerRuntimeEndpoint! : `unix://${o.containerRuntimeEndpoint}`;
    const runtime = new CriRuntime({ endpoint });
    const started: StartedRuntime = { runtime, endpoint, importImage: (file) => importImageArchive(endpoint.slice('unix://'.length), file), close: () => runtime.close() };
    // The external runtime's pod network is its own business; the k8ts handler keeps a separate address record.
    return withK8tsHandler(o, root, started, join(root, 'runtime', 'cni', 'networks'));
  }
  if (choice === 'containerd') {
    const { ManagedContainerd } = await import('../kubelet/runtime/cri/managedContainerd.js');
    const managed = await ManagedContainerd.start({ dataDir: o.dataDir, ...(o.bridge ? { bridge: o.bridge } : {}) });
    const runtime = managed.runtime();
    const started: StartedRuntime = {
      runtime,
      endpoint: managed.endpoint,
      importImage: (file) => managed.importImageArchive(file),
      close: async () => {
        await runtime.close();
        // containerd's shims keep the containers; containerd itself gets a short grace.
        await managed.close(2000);
      },
    };
    return withK8tsHandler(o, root, started, managed.paths.cniDataDir);
  }
  const { runtime, images } = await startProcessRuntime(o, root);
  // gRPC loads with the first `k8ts crictl` connection, not in every idle kubelet.
  const { serveCriOnDemand } = await import('../kubelet/runtime/cri/onDemandServer.js');
  const socket = join(root, 'k8ts-cri.sock');
  const cri = await serveCriOnDemand(runtime, socket);
  return {
    runtime,
    endpoint: `unix://${socket}`,
    importImage: async (file) => (await images.importArchive(file)).flatMap((i) => i.repoTags),
    close: async () => {
      await cri.close();
      await runtime.close();
    },
  };
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const root = agentDir(o.dataDir);
  await mkdir(root, { recursive: true });
  const rt = await startRuntime(o, root);
  // crictl and `k8ts images` find the node's runtime here.
  await writeFile(join(root, 'runtime-endpoint'), `${rt.endpoint}\n`);
  const abort = new AbortController();
  const podsDir = join(root, 'kubelet', 'pods');
  const podVolumes = new Map<string, PodVolumes>();
  let kubelet: Kubelet;
  const volumes = new VolumeManager({
    client: o.client,
    nodeName: o.nodeName,
    podsDir,
    nodeAllocatable: () => kubelet.nodeAllocatable() as never,
    onResyncError: (pod, err) => kubelet.recorder.event(pod, 'Warning', 'FailedMount', err.message),
  });
  void volumes.run(abort.signal).catch(() => undefined);
  // The kubelet's recorder, for parts made before the kubelet.
  const events: EventSink = { event: (subject, type, reason, message) => kubelet.recorder.event(subject, type, reason, message) };
  const probes = new ProbeManager({
    runtime: rt.runtime,
    recorder: events,
    podStatus: (uid) => kubelet.statusManager.get(uid),
    onLivenessFailure: (pod) => kubelet.requestSync(pod.metadata!.uid!),
    onStartupFailure: (pod) => kubelet.requestSync(pod.metadata!.uid!),
    onResultChange: (uid) => kubelet.requestSync(uid),
  });
  const hookRunner = new HandlerRunner({
    runtime: rt.runtime,
    podIP: (pod) => kubelet.statusManager.get(pod.metadata!.uid!)?.podIP,
    recorder: events,
  });
  /** Container ids of the pod whose probe of `type` reported failure (the kubelet restarts them). */
  const failed = (uid: string, type: 'liveness' | 'startup'): Set<string> => {
    const out = new Set<string>();
    const st = kubelet.statusManager.get(uid);
    for (const c of [...(st?.containerStatuses ?? []), ...(st?.initContainerStatuses ?? [])]) {
      const id = c.containerID?.split('://')[1];
      if (!id || !c.state?.running) continue;
      if ((type === 'liveness' ? probes.liveness(uid, id) : probes.startup(uid, id)) === false) out.add(id);
    }
    return out;
  };
  const hooks: PodLifecycleHooks = {
    setUpVolumes: async (pod, signal) => {
      podVolumes.set(pod.metadata!.uid!, await volumes.setUpPod(pod, signal));
    },
    tearDownVolumes: async (pod) => {
      podVolumes.delete(pod.metadata!.uid!);
      await volumes.tearDownPod(pod.metadata!.uid!);
    },
    probesAdd: (pod) => {
      probes.addPod(pod as Pod);
      probes.updatePod(pod as Pod);
    },
    probesRemove: (pod) => probes.removePod(pod as Pod),
    readiness: (uid, id) => probes.readiness(uid, id),
    startup: (uid, id) => probes.startup(uid, id),
    livenessFailures: (uid) => failed(uid, 'liveness'),
    startupFailures: (uid) => failed(uid, 'startup'),
  };
  // The kubelet's /metrics (certificate manager metrics).
  const metrics = new Registry();
  const certificates = o.clientCertificate
    ? new ClientCertificateManager({
        client: o.client,
        nodeName: o.nodeName,
        initial: o.clientCertificate,
        store: o.clientCertificate.store,
        ...(o.clientCertificate.expirationSeconds !== undefined ? { expirationSeconds: o.clientCertificate.expirationSeconds } : {}),
        registry: metrics,
      })
    : undefined;
  // The kubelet API comes up first: the node reports its port.
  const servingCA = o.servingCA ?? (await createCA({ commonName: `${o.nodeName}-ca@${Math.floor(Date.now() / 1000)}` }));
  const serving = await issueServingCertificate(servingCA, { commonName: o.nodeName, dnsNames: [o.nodeName, 'localhost'], ipAddresses: [o.nodeIP, '127.0.0.1'] });
  let kubeletRef: Kubelet | undefined;
  const kubeletServer = await startKubeletServer({
    deps: {
      nodeName: o.nodeName,
      listPods: () => kubeletRef?.listPods() ?? [],
      findPod: (ns, name, uid) => kubeletRef?.findPod(ns, name, uid),
      runtime: rt.runtime,
      podSandboxId: async (pod) => kubeletRef?.podSandboxId(pod.metadata!.uid!),
      metrics,
    },
    tls: { cert: `${serving.certPem}${servingCA.certPem}`, key: serving.keyPem },
    clientCAPem: o.clientCAPem,
    port: o.kubeletPort ?? 10250,
    address: o.kubeletAddress ?? '0.0.0.0',
  });
  // Pod egress NAT for the node's pod network (the CNI bridge runs without ipMasq), installed before
  // the runtime hears of the podCIDR and kept up to date with the other nodes' pod networks.
  const { PodMasquerade } = await import('../network/podMasquerade.js');
  const { DEFAULT_NETWORK_NAME } = await import('../network/cni/conflist.js');
  // Per-pod chains left by our earlier `ipMasq: true` conflists are emptied; a runtime the user
  // points at keeps its own network, and so its chains.
  const masquerade = new PodMasquerade({
    ...(o.bridge ? { bridge: o.bridge } : {}),
    ...(o.containerRuntimeEndpoint ? {} : { bridgeNetwork: DEFAULT_NETWORK_NAME }),
  });
  kubelet = new Kubelet({
    client: o.client,
    onPodCIDRs: (cidrs) => masquerade.update({ own: cidrs }),
    nodeName: o.nodeName,
    nodeIP: o.nodeIP,
    runtime: rt.runtime,
    rootDir: root,
    podsDir,
    ...(o.podManifestPath !== undefined ? { podManifestPath: o.podManifestPath } : {}),
    ...(o.maxPods !== undefined ? { maxPods: o.maxPods } : {}),
    ...(o.podPidsLimit !== undefined ? { podPidsLimit: o.podPidsLimit } : {}),
    ...(o.kubeReserved ? { kubeReserved: o.kubeReserved } : {}),
    ...(o.systemReserved ? { systemReserved: o.systemReserved } : {}),
    ...(o.evictionHard ? { evictionHard: o.evictionHard } : {}),
    controlPlane: o.controlPlane ?? false,
    clusterDNS: o.clusterDNS ?? ['10.96.0.10'],
    clusterDomain: o.clusterDomain ?? 'cluster.local',
    ...(o.nodeLabels ? { nodeLabels: o.nodeLabels } : {}),
    nodeAnnotations: { 'k8ts.io/local-path-storage-root': join(o.dataDir, 'storage') },
    ...(o.registerWithTaints ? { registerWithTaints: o.registerWithTaints } : {}),
    kubeletPort: kubeletServer.port,
    environment: (k) =>
      new KubeletEnvironment({
        client: o.client,
        podsDir,
        nodeIPs: () => [o.nodeIP],
        nodeAllocatable: () => k.nodeAllocatable(),
        clusterDNS: o.clusterDNS ?? ['10.96.0.10'],
        clusterDomain: o.clusterDomain ?? 'cluster.local',
        volumes,
        podVolumes: (uid) => podVolumes.get(uid),
        recorder: events,
        runHook: (pod, container, id, handler, _kind, signal) => hookRunner.run(pod as Pod, container, id, handler, signal),
        signal: abort.signal,
      }),
    hooks: () => hooks,
  });
  kubeletRef = kubelet;
  // Renewal runs from the start: a short-lived certificate may be due while the kubelet starts.
  certificates?.start();
  await kubelet.start();
  // Pods on other nodes are reached through their nodes (flannel's host-gw).
  const { HostGatewayRoutes } = await import('../network/hostGateway.js');
  const routes = new HostGatewayRoutes(o.client, o.nodeName, masquerade);
  routes.start(abort.signal);
  // NetworkPolicy for this node's pods (what Calico or k3s's embedded kube-router add to a bridge network).
  let netpol: import('../network/policy/controller.js').NetworkPolicyController | undefined;
  if (!o.disableNetworkPolicy) {
    const { NetworkPolicyController, netpolTableName } = await import('../network/policy/controller.js');
    netpol = new NetworkPolicyController({ client: o.client, nodeName: o.nodeName, table: netpolTableName(o.bridge) });
    await netpol.start(abort.signal);
  }
  log.info({ node: o.nodeName, runtime: rt.endpoint, kubeletPort: kubeletServer.port }, 'agent started');
  return {
    kubelet,
    runtime: rt.runtime,
    kubeletServer,
    runtimeEndpoint: rt.endpoint,
    importImage: (file) => rt.importImage(file),
    stop: async () => {
      abort.abort(new Error('agent stopping'));
      await certificates?.stop();
      await routes.close();
      // The policy and masquerade rules stay in the kernel, as kube-proxy's do: pods outlive the agent (`k8ts killall` removes them).
      await netpol?.stopped();
      probes.stop();
      await kubelet.stop();
      await kubeletServer.close();
      await rt.close();
    },
  };
}
