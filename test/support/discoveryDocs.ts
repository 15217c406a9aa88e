// The discovery document a small test server answers for `path`, made by the API server's own
// discovery module, so test servers that stand in for k8ts show kubectl the same documents.
import type { ResourceType } from '../../src/api/catalog.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, groupVersions } from '../../src/apiserver/discovery.js';

export function discoveryDocument(resources: readonly ResourceType[], path: string): object | undefined {
  if (path === '/api') return apiVersions('127.0.0.1');
  if (path === '/apis') return apiGroupList(resources);
  const gv = /^\/(?:api|apis\/([^/]+))\/([^/]+)$/.exec(path);
  if (gv) return apiResourceList(resources, gv[1] ?? '', gv[2]!);
  const g = /^\/apis\/([^/]+)$/.exec(path)?.[1];
  if (g === undefined) return undefined;
  const versions = groupVersions(resources).filter((x) => x.group === g).map((x) => x.version);
  return versions.length > 0 ? apiGroup(g, versions) : undefined;
}
