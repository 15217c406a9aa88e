// Discovery documents, all derived from the resource catalog: /api, /apis, per group-version
// APIResourceLists, and the aggregated apidiscovery.k8s.io/v2 documents kubectl 1.30+ asks for.
import { createHash } from 'node:crypto';
import { groupVersion, type ResourceType, type Verb } from '../api/catalog.js';

interface SubresourceInfo {
  kind: string;
  group?: string;
  version?: string;
  verbs: Verb[];
}

const PROXY_VERBS: Verb[] = ['create', 'delete', 'get', 'patch', 'update'];

function subresourceInfo(t: ResourceType, sub: string): SubresourceInfo {
  switch (sub) {
    case 'status':
      return { kind: t.kind, verbs: ['get', 'patch', 'update'] };
    case 'scale':
      return { kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] };
    case 'binding':
      return { kind: 'Binding', verbs: ['create'] };
    case 'eviction':
      return { kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] };
    case 'log':
      return { kind: 'Pod', verbs: ['get'] };
    case 'exec':
      return { kind: 'PodExecOptions', verbs: ['create', 'get'] };
    case 'attach':
      return { kind: 'PodAttachOptions', verbs: ['create', 'get'] };
    case 'portforward':
      return { kind: 'PodPortForwardOptions', verbs: ['create', 'get'] };
    case 'proxy':
      return { kind: `${t.kind}ProxyOptions`, verbs: PROXY_VERBS };
    case 'ephemeralcontainers':
      return { kind: 'Pod', verbs: ['get', 'patch', 'update'] };
    case 'token':
      return { kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] };
    case 'finalize':
      return { kind: t.kind, verbs: ['update'] };
    case 'approval':
      return { kind: t.kind, verbs: ['get', 'patch', 'update'] };
    default:
      return { kind: t.kind, verbs: ['get'] };
  }
}

/** Group-versions in the order upstream lists them (core first, then groups by name). */
export function groupVersions(resources: readonly ResourceType[]): Array<{ group: string; version: string }> {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of resources) seen.set(groupVersion(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

function storageVersionHash(t: ResourceType): string {
  return createHash('sha256').update(`${t.group}/${t.version}/${t.kind}`).digest('base64').slice(0, 11);
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export function apiGroupList(resources: readonly ResourceType[]): object {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions(resources)) {
    if (gv.group === '') continue;
    const vs = groups.get(gv.group) ?? [];
    if (!vs.includes(gv.version)) vs.push(gv.version);
    groups.set(gv.group, vs);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups.entries()].map(([name, versions]) => apiGroup(name, versions)),
  };
}

export function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: vs, preferredVersion: vs[0] };
}

export function apiResourceList(resources: readonly ResourceType[], group: string, version: string): object | undefined {
  const mine = resources.filter((r) => r.group === group && r.version === version);
  if (mine.length === 0) return undefined;
  const list: Array<Record<string, unknown>> = [];
  for (const t of mine) {
    const entry: Record<string, unknown> = {
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: [...t.verbs],
    };
    if (t.shortNames?.length) entry.shortNames = [...t.shortNames];
    if (t.categories?.length) entry.categories = [...t.categories];
    if (t.storage) entry.storageVersionHash = storageVersionHash(t);
    list.push(entry);
    for (const sub of t.subresources ?? []) {
      const info = subresourceInfo(t, sub);
      const s: Record<string, unknown> = { name: `${t.plural}/${sub}`, singularName: '', namespaced: t.namespaced, kind: info.kind, verbs: info.verbs };
      if (info.group) s.group = info.group;
      if (info.version) s.version = info.version;
      list.push(s);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources: list };
}

/** The aggregated discovery document of /api (core) or /apis (every named group). */
export function aggregatedDiscovery(resources: readonly ResourceType[], core: boolean): object {
  const byGroup = new Map<string, Map<string, ResourceType[]>>();
  for (const r of resources) {
    if ((r.group === '') !== core) continue;
    const versions = byGroup.get(r.group) ?? new Map<string, ResourceType[]>();
    const list = versions.get(r.version) ?? [];
    list.push(r);
    versions.set(r.version, list);
    byGroup.set(r.group, versions);
  }
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: [...byGroup.entries()].map(([group, versions]) => ({
      metadata: { name: group, creationTimestamp: null },
      versions: [...versions.entries()].map(([version, types]) => ({
        version,
        resources: types.map((t) => {
          const res: Record<string, unknown> = {
            resource: t.plural,
            responseKind: { group: t.group, version: t.version, kind: t.kind },
            scope: t.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: t.singular,
            verbs: [...t.verbs],
          };
          if (t.shortNames?.length) res.shortNames = [...t.shortNames];
          if (t.categories?.length) res.categories = [...t.categories];
          if (t.subresources?.length) {
            res.subresources = t.subresources.map((sub) => {
              const info = subresourceInfo(t, sub);
              return {
                subresource: sub,
                responseKind: { group: info.group ?? t.group, version: info.version ?? t.version, kind: info.kind },
                verbs: info.verbs,
              };
            });
          }
          return res;
        }),
        freshness: 'Current',
      })),
    })),
  };
}

export const AGGREGATED_DISCOVERY_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const AGGREGATED_DISCOVERY_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

/** Which aggregated discovery version an Accept header asks for, if any. */
export function wantsAggregated(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const p = part.replace(/\s/g, '');
    if (p.includes('g=apidiscovery.k8s.io') && p.includes('as=APIGroupDiscoveryList')) {
      if (p.includes('v=v2beta1')) return 'v2beta1';
      if (p.includes('v=v2')) return 'v2';
    }
  }
  return undefined;
}
