// What the API serves, read from discovery (/api, /api/v1, /apis, /apis/<group>/<version>) as
// client-go's discovery client does, for controllers that act on every resource (garbage
// collector, namespace deletion) including custom resources that appear and disappear.
import type { RestClient } from '../client/restClient.js';

/** One resource of one group-version, as an APIResourceList lists it (subresources excluded). */
export interface DiscoveredResource {
  group: string;
  version: string;
  /** The resource name in URLs (`pods`). */
  plural: string;
  kind: string;
  namespaced: boolean;
  verbs: readonly string[];
}

/** Some group-versions could not be read; the others were (upstream's ErrGroupDiscoveryFailed). */
export class GroupDiscoveryFailedError extends Error {
  override readonly name = 'GroupDiscoveryFailedError';
  constructor(readonly groups: ReadonlyMap<string, Error>) {
    const parts = [...groups.entries()].map(([gv, err]) => `${gv}: ${err.message}`).sort();
    super(`unable to retrieve the complete list of server APIs: ${parts.join(', ')}`);
  }
}

export interface Discovery {
  /** Every resource of every served group-version. */
  all: DiscoveredResource[];
  /** One version per group-resource: the group's preferred version where it has the resource (ServerPreferredResources). */
  preferred: DiscoveredResource[];
  /** Set when some group-versions failed; `all`/`preferred` hold what could be read. */
  error?: GroupDiscoveryFailedError;
}

interface APIResourceEntry {
  name: string;
  namespaced?: boolean;
  kind: string;
  verbs?: string[];
}
interface APIResourceListDoc {
  resources?: APIResourceEntry[];
}
interface APIGroupDoc {
  name: string;
  versions?: Array<{ groupVersion: string; version: string }>;
  preferredVersion?: { version: string };
}

export function groupVersionString(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

/** Splits `apps/v1` / `v1`; undefined when it is not a group-version. */
export function parseGroupVersion(gv: string): { group: string; version: string } | undefined {
  if (!gv) return undefined;
  const parts = gv.split('/');
  if (parts.length === 1) return { group: '', version: parts[0]! };
  if (parts.length === 2 && parts[0] && parts[1]) return { group: parts[0], version: parts[1] };
  return undefined;
}

/** Reads discovery. Throws only when nothing at all could be read (e.g. the server is down). */
export async function discoverResources(client: RestClient, signal?: AbortSignal): Promise<Discovery> {
  const call = signal ? { signal } : {};
  const failures = new Map<string, Error>();
  const all: DiscoveredResource[] = [];
  const preferred: DiscoveredResource[] = [];
  const readList = async (group: string, version: string): Promise<DiscoveredResource[] | undefined> => {
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    try {
      const doc = await client.request<APIResourceListDoc>({ method: 'GET', path, ...call });
      return (doc?.resources ?? [])
        .filter((r) => !r.name.includes('/'))
        .map((r) => ({ group, version, plural: r.name, kind: r.kind, namespaced: r.namespaced === true, verbs: r.verbs ?? [] }));
    } catch (err) {
      if (signal?.aborted) throw err;
      failures.set(groupVersionString(group, version), err instanceof Error ? err : new Error(String(err)));
      return undefined;
    }
  };
  const core = await client.request<{ versions?: string[] }>({ method: 'GET', path: '/api', ...call });
  const groups = await client.request<{ groups?: APIGroupDoc[] }>({ method: 'GET', path: '/apis', ...call });
  const work: Array<Promise<void>> = [];
  const addGroup = (group: string, versions: string[], preferredVersion: string | undefined) => {
    work.push(
      (async () => {
        const lists = await Promise.all(versions.map((v) => readList(group, v)));
        const seen = new Map<string, DiscoveredResource>();
        // Preferred version first, then the others for resources the preferred one lacks.
        const order = versions.map((v, i) => ({ v, list: lists[i] })).sort((a, b) => Number(b.v === preferredVersion) - Number(a.v === preferredVersion));
        for (const { list } of order) {
          for (const r of list ?? []) {
            all.push(r);
            if (!seen.has(r.plural)) seen.set(r.plural, r);
          }
        }
        preferred.push(...seen.values());
      })(),
    );
  };
  addGroup('', core?.versions ?? ['v1'], core?.versions?.[0]);
  for (const g of groups?.groups ?? []) addGroup(g.name, (g.versions ?? []).map((v) => v.version), g.preferredVersion?.version ?? g.versions?.[0]?.version);
  await Promise.all(work);
  const byKey = (r: DiscoveredResource) => `${r.group}/${r.version}/${r.plural}`;
  all.sort((a, b) => byKey(a).localeCompare(byKey(b)));
  preferred.sort((a, b) => byKey(a).localeCompare(byKey(b)));
  const out: Discovery = { all, preferred };
  if (failures.size) out.error = new GroupDiscoveryFailedError(failures);
  return out;
}

/** Resources supporting every one of `verbs`. */
export function supportingVerbs(resources: readonly DiscoveredResource[], verbs: readonly string[]): DiscoveredResource[] {
  return resources.filter((r) => verbs.every((v) => r.verbs.includes(v)));
}

/** `group/version/plural`, the key of a resource in maps. */
export function resourceKey(r: { group: string; version: string; plural: string }): string {
  return `${r.group}/${r.version}/${r.plural}`;
}
