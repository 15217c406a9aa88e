// A tiny plain-HTTP server for tests that serves /openapi/v2 as upstream does: protobuf or JSON by
// Accept (406 otherwise), /swagger-2.0.0.pb-v1 always in protobuf; plus legacy discovery, optionally
// /openapi/v3, and a naive object store, enough for kubectl explain and kubectl apply.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResourceType } from '../../../src/api/catalog.js';
import { discoveryDocument } from '../../support/discoveryDocs.js';
import { openapiV2Json, openapiV3Discovery, openapiV3Json } from '../../../src/api/openapi/index.js';
import { OPENAPI_V2_PROTOBUF_CONTENT_TYPE, openapiV2FormatFor, openapiV2Protobuf } from '../../../src/api/openapi/protobuf/index.js';

/** A request as the server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  accept: string;
  contentType: string;
  body: string;
  /** Status code answered. */
  status: number;
  /** Content-Type answered. */
  served: string;
}

export interface ProtobufServer {
  url: string;
  server: Server;
  /** Every request, in order. */
  requests: SeenRequest[];
  close(): Promise<void>;
}

export interface ProtobufServerOptions {
  /** Serve /openapi/v3 (default true); without it kubectl explain renders from /openapi/v2. */
  openapiV3?: boolean;
  /** Answer /openapi/v2 with 406 whatever the Accept, so clients take /swagger-2.0.0.pb-v1 (default false). */
  refuseOpenapiV2?: boolean;
}

const NOT_FOUND = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });


export async function startProtobufServer(resources: readonly ResourceType[], options: ProtobufServerOptions = {}): Promise<ProtobufServer> {
  const { openapiV3 = true, refuseOpenapiV2 = false } = options;
  const objects = new Map<string, string>();
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const accept = req.headers.accept ?? '';
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, contentType: string, payload: string | Buffer) => {
        requests.push({ method: req.method ?? '', path, accept, contentType: req.headers['content-type'] ?? '', body, status, served: contentType });
        res.writeHead(status, { 'content-type': contentType, vary: 'Accept' });
        res.end(payload);
      };
      const json = (status: number, payload: string) => send(status, 'application/json', payload);

      if (path === '/swagger-2.0.0.pb-v1') return send(200, OPENAPI_V2_PROTOBUF_CONTENT_TYPE, openapiV2Protobuf(resources).body);
      if (path === '/openapi/v2') {
        const format = refuseOpenapiV2 ? undefined : openapiV2FormatFor(accept);
        if (format === 'protobuf') return send(200, OPENAPI_V2_PROTOBUF_CONTENT_TYPE, openapiV2Protobuf(resources).body);
        if (format === 'json') return json(200, openapiV2Json(resources).json);
        return send(406, 'text/plain', '');
      }
      if (path === '/openapi/v3' && openapiV3) return json(200, JSON.stringify(openapiV3Discovery(resources)));
      if (path.startsWith('/openapi/v3/') && openapiV3) {
        const doc = openapiV3Json(path.slice('/openapi/v3/'.length), resources);
        return doc ? json(200, doc.json) : json(404, NOT_FOUND);
      }
      if (path === '/version') return json(200, JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0+k8ts', platform: 'linux/amd64' }));
      if (/\/namespaces\/[^/]+\/[^/]+/.test(path) && req.method === 'POST') {
        const obj = JSON.parse(body) as { metadata: { name: string } };
        const stored = JSON.stringify({ ...obj, metadata: { ...obj.metadata, namespace: 'default', uid: 'u1', resourceVersion: '1' } });
        objects.set(`${path}/${obj.metadata.name}`, stored);
        return json(201, stored);
      }
      const stored = objects.get(path);
      if (stored) return json(200, stored);
      const d = req.method === 'GET' ? discoveryDocument(resources, path) : undefined;
      return d ? json(200, JSON.stringify(d)) : json(404, NOT_FOUND);
    });
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
