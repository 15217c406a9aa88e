// The REST API below kubectl: @kubernetes/client-node flows (list, watch, informer) and raw
// HTTPS requests for resourceVersion semantics, paging, watch errors and bad input.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

describe('REST API', () => {
  let s: RunningServer;
  let kc: k8s.KubeConfig;
  let tls: { ca: string; cert: string; key: string; server: string };

  /** A raw HTTPS request as the admin (or anonymous with `anonymous: true`). */
  const raw = (method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string>; anonymous?: boolean; untilMs?: number } = {}): Promise<Raw> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, tls.server);
      const req = request(
        url,
        {
          method,
          ca: tls.ca,
          ...(opts.anonymous ? {} : { cert: tls.cert, key: tls.key }),
          headers: { 'Content-Type': 'application/json', ...(opts.headers ?? {}) },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
          res.on('end', done);
          if (opts.untilMs) setTimeout(() => { req.destroy(); done(); }, opts.untilMs);
        },
      );
      req.on('error', (err) => (opts.untilMs ? undefined : reject(err)));
      if (opts.body !== undefined) req.write(opts.body);
      req.end();
    });

  before(async () => {
    s = await startK8tsServer(['--disable-agent']);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    const cluster = kc.getCurrentCluster()!;
    const user = kc.getCurrentUser()!;
    tls = {
      server: cluster.server,
      ca: Buffer.from(cluster.caData!, 'base64').toString(),
      cert: Buffer.from(user.certData!, 'base64').toString(),
      key: Buffer.from(user.keyData!, 'base64').toString(),
    };
  });
  after(async () => {
    await s?.stop();
  });

  it('lists, creates and reads through client-node', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'from-client-node' }, data: { a: '1' } } });
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    assert.ok(list.items.some((c) => c.metadata?.name === 'from-client-node'));
    const got = await core.readNamespacedConfigMap({ namespace: 'default', name: 'from-client-node' });
    assert.equal(got.data?.a, '1');
    await assert.rejects(core.readNamespacedConfigMap({ namespace: 'default', name: 'missing' }), (err: any) => err.code === 404);
  });

  it('watches through client-node and keeps an informer in sync', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const seen: string[] = [];
    const watch = new k8s.Watch(kc);
    const req = await watch.watch('/api/v1/namespaces/default/configmaps', { resourceVersion: (await core.listNamespacedConfigMap({ namespace: 'default' })).metadata!.resourceVersion }, (type, obj) => seen.push(`${type} ${obj.metadata.name}`), () => {});
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'watched' } } });
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'watched' });
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    req.abort();
    assert.deepEqual(seen.slice(0, 2), ['ADDED watched', 'DELETED watched']);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'in-informer' } } });
    const until = Date.now() + 5000;
    while (!informer.list('default').some((c) => c.metadata?.name === 'in-informer') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.ok(informer.list('default').some((c) => c.metadata?.name === 'in-informer'));
    await informer.stop();
  });

  it('pages a list with limit and continue at one resourceVersion', async () => {
    for (let i = 0; i < 7; i++) {
      const r = await raw('POST', '/api/v1/namespaces/default/secrets', { body: JSON.stringify({ metadata: { name: `page-${i}` }, stringData: { k: 'v' } }) });
      assert.equal(r.status, 201, r.body);
    }
    const first = (await raw('GET', '/api/v1/namespaces/default/secrets?limit=3')).json();
    assert.equal(first.items.length, 3);
    assert.ok(first.metadata.continue);
    assert.equal(first.metadata.remainingItemCount, 4);
    const second = (await raw('GET', `/api/v1/namespaces/default/secrets?limit=3&continue=${encodeURIComponent(first.metadata.continue)}`)).json();
    assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion);
    assert.equal(second.items.length, 3);
    const bad = await raw('GET', '/api/v1/namespaces/default/secrets?limit=3&continue=garbage');
    assert.equal(bad.status, 400);
  });

  it('streams a watch from a resourceVersion, with bookmarks, and ends with 410 for a compacted one', async () => {
    const cm = (await raw('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ metadata: { name: 'w1' } }) })).json();
    const rv = Number(cm.metadata.resourceVersion);
    await raw('PATCH', '/api/v1/namespaces/default/configmaps/w1', { body: JSON.stringify({ data: { x: 'y' } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    const w = await raw('GET', `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=1`);
    const events = w.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.filter((e) => e.object.metadata.name === 'w1').map((e) => e.type), ['MODIFIED']);
    // Old history is still served while the store keeps it (no gap): every event after revision 1.
    const fromStart = await raw('GET', '/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=1');
    assert.ok(fromStart.body.trim().split('\n').some((l) => JSON.parse(l).object.metadata?.name === 'w1'));
  });

  it('ends a watch from a compacted resourceVersion with 410 Expired', async () => {
    const short = await startK8tsServer(['--disable-agent', '--etcd-compaction-interval', '1s']);
    try {
      await short.kubectl(['create', 'configmap', 'a', '--from-literal=x=y']);
      await new Promise((r) => setTimeout(r, 2600)); // two compaction rounds
      const r = await short.kubectl(['get', '--raw', '/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2&timeoutSeconds=1']);
      const first = JSON.parse(r.stdout.trim().split('\n')[0]!);
      assert.equal(first.type, 'ERROR');
      assert.equal(first.object.code, 410);
      assert.equal(first.object.reason, 'Expired');
      assert.match(first.object.message, /too old resource version: 2 \(\d+\)/);
    } finally {
      await short.stop();
    }
  });

  it('answers every kind of bad input with a Status and the right code', async () => {
    const cases: Array<[string, Promise<Raw>, number, string]> = [
      ['malformed JSON', raw('POST', '/api/v1/namespaces/default/configmaps', { body: '{"metadata": {' }), 400, 'BadRequest'],
      ['a body over 3 MiB', raw('POST', '/api/v1/namespaces/default/configmaps', { body: Buffer.alloc(3 * 1024 * 1024 + 10, 0x20) }), 413, 'RequestEntityTooLarge'],
      ['an unknown content type', raw('POST', '/api/v1/namespaces/default/configmaps', { body: 'x', headers: { 'Content-Type': 'text/plain' } }), 415, 'UnsupportedMediaType'],
      ['an unsupported patch type', raw('PATCH', '/api/v1/namespaces/default/configmaps/w1', { body: '{}', headers: { 'Content-Type': 'application/json' } }), 415, 'UnsupportedMediaType'],
      ['a verb the resource lacks', raw('PUT', '/api/v1/namespaces/default/configmaps', { body: '{}' }), 405, 'MethodNotAllowed'],
      ['an Accept it cannot serve', raw('GET', '/api/v1/namespaces', { headers: { Accept: 'application/vnd.kubernetes.protobuf' } }), 406, 'NotAcceptable'],
      ['no credentials', raw('GET', '/api/v1/namespaces', { anonymous: true }), 401, 'Unauthorized'],
      ['a bad label selector', raw('GET', '/api/v1/pods?labelSelector=a%20in%20(', {}), 400, 'BadRequest'],
      ['an unsupported field selector', raw('GET', '/api/v1/pods?fieldSelector=spec.bogus%3Dx', {}), 400, 'BadRequest'],
      ['a stale resourceVersion', raw('PUT', '/api/v1/namespaces/default/configmaps/w1', { body: JSON.stringify({ metadata: { name: 'w1', resourceVersion: '2' } }) }), 409, 'Conflict'],
      ['a missing object', raw('GET', '/apis/apps/v1/namespaces/default/deployments/none'), 404, 'NotFound'],
      ['a wrong type in a field', raw('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ metadata: { name: 7 } }) }), 422, 'Invalid'],
    ];
    for (const [name, p, code, reason] of cases) {
      const r = await p;
      assert.equal(r.status, code, `${name}: ${r.body}`);
      const status = JSON.parse(r.body);
      assert.equal(status.kind, 'Status', name);
      assert.equal(status.reason, reason, name);
      assert.equal(status.code, code, name);
    }
    const notFound = (await raw('GET', '/apis/apps/v1/namespaces/default/deployments/none')).json();
    assert.equal(notFound.message, 'deployments.apps "none" not found');
    assert.deepEqual(notFound.details, { name: 'none', group: 'apps', kind: 'deployments' });
    // The server is still fine after all that.
    assert.equal((await raw('GET', '/readyz')).status, 200);
  });

  it('serves discovery in both forms and tables', async () => {
    const agg = await raw('GET', '/apis', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
    assert.match(String(agg.headers['content-type']), /apidiscovery\.k8s\.io;v=v2/);
    assert.ok(agg.json().items.some((g: any) => g.metadata.name === 'apps'));
    const legacy = (await raw('GET', '/api/v1')).json();
    assert.ok(legacy.resources.some((r: any) => r.name === 'pods/status'));
    const table = (await raw('GET', '/api/v1/namespaces', { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } })).json();
    assert.equal(table.kind, 'Table');
    assert.deepEqual(table.columnDefinitions.map((c: any) => c.name), ['Name', 'Status', 'Age']);
  });
});
