// The REST client's edges against a scripted plain-HTTP server: headers, retries, error mapping.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ApiError, ConnectionError, isConflict, isTooManyRequests } from '../../../src/client/apiError.js';
import { RestClient } from '../../../src/client/restClient.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

describe('RestClient', () => {
  let server: Server;
  let port = 0;
  let handler: Handler = (_q, res) => res.end('{}');
  const requests: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        requests.push({ method: req.method, url: req.url, headers: req.headers, body });
        handler(req, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const client = () => new RestClient({ server: `http://127.0.0.1:${port}`, token: 't0ken' }, { component: 'kube-scheduler', qps: -1 });

  it('builds paths and queries from the resource, and sends the user agent and bearer token', async () => {
    requests.length = 0;
    handler = (_q, res) => res.end(JSON.stringify({ items: [], metadata: {} }));
    const c = client();
    await c.resource('apps', 'v1', 'deployments').list({ namespace: 'web', labelSelector: { app: 'x' }, limit: 5 });
    await c.resourceFor('Node').get(undefined, 'n1');
    await c.resourceFor('Pod').patch('default', 'p', { spec: {} }, { type: 'strategic', fieldManager: 'me', dryRun: true });
    await c.resourceFor('Pod').createSubresource('default', 'p', 'eviction', { apiVersion: 'policy/v1', kind: 'Eviction' });
    assert.deepEqual(
      requests.map((r) => `${r.method} ${decodeURIComponent(r.url ?? '')}`),
      [
        'GET /apis/apps/v1/namespaces/web/deployments?labelSelector=app=x&limit=5',
        'GET /api/v1/nodes/n1',
        'PATCH /api/v1/namespaces/default/pods/p?dryRun=All&fieldManager=me',
        'POST /api/v1/namespaces/default/pods/p/eviction',
      ],
    );
    assert.match(requests[0]!.headers['user-agent'] ?? '', /^k8ts-kube-scheduler\/v1\.32\.\d+ /);
    assert.equal(requests[0]!.headers.authorization, 'Bearer t0ken');
    assert.equal(requests[2]!.headers['content-type'], 'application/strategic-merge-patch+json');
    c.close();
  });

  it('retries a 429 after Retry-After, for writes too, and gives up with ApiError after maxRetries', async () => {
    requests.length = 0;
    let n = 0;
    handler = (_q, res) => {
      if (n++ < 2) {
        res.writeHead(429, { 'Retry-After': '0', 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'TooManyRequests', code: 429, message: 'slow down' }));
      } else res.end(JSON.stringify({ metadata: { name: 'x' } }));
    };
    const c = client();
    const made = await c.resourceFor('ConfigMap').create({ metadata: { namespace: 'd', name: 'x' } });
    assert.deepEqual(made, { metadata: { name: 'x' } });
    assert.equal(requests.length, 3);
    n = -100;
    const limited = new RestClient({ server: `http://127.0.0.1:${port}` }, { qps: -1, maxRetries: 1 });
    await assert.rejects(limited.resourceFor('ConfigMap').get('d', 'x'), (e: unknown) => isTooManyRequests(e) && (e as ApiError).message === 'slow down');
    c.close();
    limited.close();
  });

  it('maps a non-Status error body to an ApiError with the code’s reason', async () => {
    handler = (_q, res) => {
      res.writeHead(409);
      res.end('conflict!');
    };
    const c = client();
    await assert.rejects(c.resourceFor('ConfigMap').get('d', 'x'), (e: unknown) => isConflict(e) && (e as ApiError).code === 409);
    c.close();
  });

  it('retries GETs (not writes) after connection failures, and reports ConnectionError', async () => {
    const dead = new RestClient({ server: 'http://127.0.0.1:1' }, { qps: -1, maxConnectionRetries: 1 });
    const t0 = Date.now();
    await assert.rejects(dead.resourceFor('ConfigMap').get('d', 'x'), ConnectionError);
    assert.ok(Date.now() - t0 >= 200, 'one retry after a back-off');
    const t1 = Date.now();
    await assert.rejects(dead.resourceFor('ConfigMap').create({ metadata: { namespace: 'd', name: 'x' } }), ConnectionError);
    assert.ok(Date.now() - t1 < 200, 'a POST is not retried');
    dead.close();
  });

  it('honours an AbortSignal and a per-call timeout', async () => {
    handler = () => {}; // never answers
    const c = client();
    const ac = new AbortController();
    const p = c.resourceFor('ConfigMap').get('d', 'x', { signal: ac.signal });
    ac.abort(new Error('caller gave up'));
    await assert.rejects(p, /caller gave up/);
    await assert.rejects(c.resourceFor('ConfigMap').get('d', 'x', { timeoutMs: 50 }), (e: unknown) => (e as Error).name === 'TimeoutError');
    c.close();
  });
});
