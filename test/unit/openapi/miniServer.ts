// A tiny plain-HTTP server for tests: legacy discovery (/api, /apis, /api/v1, /apis/<g>/<v>) from
// the catalog plus the OpenAPI documents, enough for `kubectl explain` and kubectl's OpenAPI lookups.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResourceType } from '../../../src/api/catalog.js';
import { discoveryDocument } from '../../support/discoveryDocs.js';
import { openapiV2Json, openapiV3Discovery, openapiV3Json } from '../../../src/api/openapi/index.js';


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
    const d = discoveryDocument(resources, path);
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
