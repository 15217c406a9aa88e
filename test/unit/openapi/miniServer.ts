// A tiny plain-HTTP server for tests: legacy discovery (/api, /apis, /api/v1, /apis/<g>/<v>) from
// the catalog plus the OpenAPI documents, enough for `kubectl explain` and kubectl's OpenAPI lookups.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { groupVersion, type ResourceType } from '../../../src/api/catalog.js';
import { openapiV2Json, openapiV3Discovery, openapiV3Json } from '../../../src/api/openapi/index.js';

function discovery(resources: readonly ResourceType[], path: string): object | undefined {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    if (r.group === '') continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  const group = (name: string, versions: string[]) => ({
    name,
    versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
  });
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups].map(([n, v]) => group(n, v)) };
  const m = /^\/(?:api|apis\/([^/]+))\/([^/]+)$/.exec(path);
  if (m) {
    const g = m[1] ?? '';
    const v = m[2]!;
    const rs = resources.filter((r) => r.group === g && r.version === v);
    if (rs.length === 0) return undefined;
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: groupVersion({ group: g, version: v }),
      resources: rs.flatMap((r) => [
        { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, shortNames: r.shortNames, categories: r.categories },
        ...(r.subresources ?? []).map((s) => ({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get'] })),
      ]),
    };
  }
  const gm = /^\/apis\/([^/]+)$/.exec(path);
  if (gm && groups.has(gm[1]!)) return { kind: 'APIGroup', apiVersion: 'v1', ...group(gm[1]!, groups.get(gm[1]!)!) };
  return undefined;
}

/** A request to an object path, as the mini server saw it (for asserting what kubectl sent). */
export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string;
  body: string;
}

export interface MiniServer {
  url: string;
  server: Server;
  /** Writes to object paths, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * Serves discovery, the OpenAPI documents and a naive object store (POST stores the body, GET
 * returns it, PATCH records the patch and returns the stored object unchanged).
 */
export async function startMiniServer(resources: readonly ResourceType[]): Promise<MiniServer> {
  const objects = new Map<string, string>();
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (/\/namespaces\/[^/]+\/[^/]+/.test(path) && req.method !== 'GET' && req.method !== 'HEAD') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        requests.push({ method: req.method ?? '', path, contentType: req.headers['content-type'] ?? '', body });
        if (req.method === 'POST') {
          const obj = JSON.parse(body) as { metadata: { name: string } };
          const stored = JSON.stringify({ ...obj, metadata: { ...obj.metadata, namespace: 'default', uid: 'u1', resourceVersion: '1' } });
          objects.set(`${path}/${obj.metadata.name}`, stored);
          return send(201, stored);
        }
        const stored = objects.get(path);
        return stored ? send(200, stored) : send(404, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      });
      return;
    }
    if (objects.has(path)) return send(200, objects.get(path)!);
    if (path === '/version') return send(200, JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0+k8ts', platform: 'linux/amd64' }));
    if (path === '/openapi/v2') return send(200, openapiV2Json(resources).json);
    if (path === '/openapi/v3') return send(200, JSON.stringify(openapiV3Discovery(resources)));
    if (path.startsWith('/openapi/v3/')) {
      const doc = openapiV3Json(path.slice('/openapi/v3/'.length), resources);
      return doc ? send(200, doc.json) : send(404, '{}');
    }
    const d = discovery(resources, path);
    return d ? send(200, JSON.stringify(d)) : send(404, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
