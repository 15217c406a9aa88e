// Glue from the kubelet's pod sync to its helpers: environment variables (envvars.ts), DNS
// (dns.ts), /etc/hosts (hosts.ts), volumes and container mounts (volumes/), lifecycle hooks
// (lifecycle/), image pull credentials. ConfigMaps and Secrets for env are read with GET when a
// container starts (upstream's `Get` change-detection strategy); Services come from an informer.
import type { ConfigMap, Container, LifecycleHandler, Pod, Secret, Service } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../client/apiError.js';
import { SharedInformer } from '../client/informer.js';
import type { RestClient } from '../client/restClient.js';
import { DNSConfigurer } from './dns.js';
import type { EventSink } from './prober/prober.js';
import { ContainerConfigError, makeEnvironmentVariables } from './envvars.js';
import { ensureHostsFile, podHostnameAndDomain, shouldMountHostsFile } from './hosts.js';
import type { ContainerEnvironment } from './kuberuntime.js';
import { SyncError } from './kuberuntime.js';
import type { AuthConfig, KeyValue, Mount } from './runtime/types.js';
import { ContainerMountError, containerMounts } from './volumes/containerMounts.js';
import type { VolumeManager } from './volumes/manager.js';
import type { PodVolumes } from './volumes/types.js';
import { join } from 'node:path';

export interface EnvironmentOptions {
  client: RestClient;
  podsDir: string;
  nodeIPs: () => string[];
  nodeAllocatable: () => Record<string, string>;
  clusterDNS: string[];
  clusterDomain: string;
  /** --resolv-conf (default /etc/resolv.conf). */
  resolvConf?: string;
  volumes: VolumeManager;
  /** The pod's set-up volumes (the kubelet keeps them from setUpPod). */
  podVolumes(uid: string): PodVolumes | undefined;
  recorder: EventSink;
  runHook(pod: Readonly<Pod>, container: Readonly<Container>, containerId: string, handler: LifecycleHandler, kind: 'PostStart' | 'PreStop', signal: AbortSignal): Promise<string | undefined>;
  signal: AbortSignal;
}

/** Registry credentials from a pod's imagePullSecrets (`.dockerconfigjson` / `.dockercfg`) for the image's registry. */
export function pullAuthFromSecrets(image: string, secrets: readonly Secret[]): AuthConfig | undefined {
  const first = image.split('/')[0]!;
  const registry = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
  const aliases = registry === 'docker.io' ? ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'] : [registry];
  for (const s of secrets) {
    const raw = s.data?.['.dockerconfigjson'] ?? s.data?.['.dockercfg'];
    if (!raw) continue;
    let parsed: { auths?: Record<string, { username?: string; password?: string; auth?: string }> } & Record<string, unknown>;
    try {
      parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
    } catch {
      continue;
    }
    const auths = (parsed.auths ?? parsed) as Record<string, { username?: string; password?: string; auth?: string }>;
    for (const [key, a] of Object.entries(auths)) {
      const host = key.replace(/^https?:\/\//, '').split('/')[0]!;
      if (!aliases.includes(host) && !aliases.includes(key)) continue;
      let { username, password } = a;
      if ((!username || !password) && a.auth) [username, password] = Buffer.from(a.auth, 'base64').toString('utf8').split(/:(.*)/s) as [string, string];
      return { ...(username ? { username } : {}), ...(password ? { password } : {}), serverAddress: registry };
    }
  }
  return undefined;
}

export class KubeletEnvironment implements ContainerEnvironment {
  private readonly services: SharedInformer<Service>;
  readonly dns: DNSConfigurer;

  constructor(private readonly o: EnvironmentOptions) {
    this.services = new SharedInformer<Service>(o.client.resource<Service>('', 'v1', 'services'), { name: 'kubelet-services' });
    this.services.start(o.signal);
    this.dns = new DNSConfigurer({
      clusterDNS: o.clusterDNS,
      clusterDomain: o.clusterDomain,
      ...(o.resolvConf !== undefined ? { resolverConfig: o.resolvConf } : {}),
      nodeIPs: o.nodeIPs(),
      recorder: o.recorder,
    });
  }

  private async get<T>(kind: 'configmaps' | 'secrets', ns: string, name: string): Promise<T | undefined> {
    try {
      return await this.o.client.resource<T & object>('', 'v1', kind).get(ns, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async env(pod: Readonly<Pod>, container: Readonly<Container>, podIPs: string[]): Promise<KeyValue[]> {
    try {
      return await makeEnvironmentVariables(pod as Pod, container as Container, {
        getConfigMap: (ns, name) => this.get<ConfigMap>('configmaps', ns, name),
        getSecret: (ns, name) => this.get<Secret>('secrets', ns, name),
        services: this.services.hasSynced() ? (this.services.list() as Service[]) : undefined,
        podIPs,
        hostIPs: this.o.nodeIPs(),
        nodeAllocatable: this.o.nodeAllocatable(),
        recorder: this.o.recorder,
      });
    } catch (err) {
      if (err instanceof ContainerConfigError) throw new SyncError('CreateContainerConfigError', err.message);
      throw err;
    }
  }

  async mounts(pod: Readonly<Pod>, container: Readonly<Container>, podIPs: string[], envs: KeyValue[]): Promise<Mount[]> {
    const uid = pod.metadata!.uid!;
    const volumes = this.o.podVolumes(uid) ?? new Map();
    const extra: Mount[] = [];
    const paths = (container.volumeMounts ?? []).map((m) => m.mountPath);
    if (shouldMountHostsFile(pod as Pod, podIPs, paths)) {
      const { hostname, hostDomain } = podHostnameAndDomain(pod as Pod, this.o.clusterDomain);
      extra.push(
        await ensureHostsFile({
          podDir: join(this.o.podsDir, uid),
          podIPs,
          hostname,
          hostDomain,
          ...(pod.spec?.hostAliases ? { hostAliases: pod.spec.hostAliases } : {}),
          hostNetwork: pod.spec?.hostNetwork === true,
        }),
      );
    }
    try {
      return await containerMounts(pod, container, volumes, { env: Object.fromEntries(envs.map((e) => [e.key, e.value])), mounts: extra });
    } catch (err) {
      if (err instanceof ContainerMountError) throw new SyncError('CreateContainerConfigError', err.message);
      throw err;
    }
  }

  async dnsConfig(pod: Readonly<Pod>) {
    return this.dns.podDNS(pod as Pod);
  }

  runHook(pod: Readonly<Pod>, container: Readonly<Container>, containerId: string, handler: LifecycleHandler, kind: 'PostStart' | 'PreStop', signal: AbortSignal): Promise<string | undefined> {
    return this.o.runHook(pod, container, containerId, handler, kind, signal);
  }

  async pullAuth(pod: Readonly<Pod>, image: string): Promise<AuthConfig | undefined> {
    const refs = pod.spec?.imagePullSecrets ?? [];
    if (!refs.length) return undefined;
    const secrets = (await Promise.all(refs.map((r) => (r.name ? this.get<Secret>('secrets', pod.metadata!.namespace!, r.name) : undefined)))).filter((s) => s !== undefined);
    return pullAuthFromSecrets(image, secrets);
  }
}
