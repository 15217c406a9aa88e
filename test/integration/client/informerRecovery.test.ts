// Informers survive outages: a server restarted on the same data dir, and a connection cut long
// enough for compaction to pass the informer's resourceVersion (410 → relist, deletes inferred).
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ConfigMap, Namespace } from 'kubernetes-types/core/v1.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { RestClient, SharedInformer, loadKubeconfigConfig, type ResourceClient } from '../../../src/client/index.js';

const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** A TCP proxy to `port` that can cut every connection and refuse new ones, like a network partition. */
async function cuttableProxy(port: number): Promise<{ port: number; cut(): void; heal(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('proxy has no port');
  return {
    port: addr.port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    heal() {
      open = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('informer recovery', () => {
  let s: RunningServer;
  let client: RestClient;
  let configmaps: ResourceClient<ConfigMap>;

  before(async () => {
    // History is compacted every second, so a resourceVersion a few seconds old is gone.
    s = await startK8tsServer(['--disable-agent', '--etcd-compaction-interval', '1s']);
    client = new RestClient(await loadKubeconfigConfig({ path: s.kubeconfig }), { component: 'recovery-test', qps: -1 });
    configmaps = client.resourceFor<ConfigMap>('ConfigMap');
    for (const name of ['restart', 'partition', 'churn']) await client.resource<Namespace>('', 'v1', 'namespaces').create({ metadata: { name } });
  });
  after(async () => {
    client?.close();
    await s?.stop();
  });

  it('keeps working after the server is stopped and started again on the same data dir', async () => {
    await configmaps.create({ metadata: { namespace: 'restart', name: 'a', labels: { t: 'r' } } });
    const inf = new SharedInformer(configmaps, { namespace: 'restart', labelSelector: 't=r', initialBackoffMs: 200, maxBackoffMs: 1000 });
    const seen: string[] = [];
    inf.addEventHandler({ onAdd: (o) => seen.push(`add ${o.metadata?.name}`), onDelete: (o) => seen.push(`delete ${o.metadata?.name}`) });
    const ac = new AbortController();
    inf.start(ac.signal);
    try {
      assert.equal(await inf.waitForSync(ac.signal), true);
      await s.restart();
      // The client config (CA, admin credentials) still works: the data dir kept the PKI.
      await configmaps.create({ metadata: { namespace: 'restart', name: 'b', labels: { t: 'r' } } });
      await configmaps.delete('restart', 'a');
      await until('the informer to see changes made after the restart', () => seen.includes('add b') && seen.includes('delete a'));
      assert.deepEqual(inf.list().map((c) => c.metadata?.name), ['b']);
    } finally {
      ac.abort();
    }
  });

  it('relists after a 410 and delivers deletes it missed with the last known object', async () => {
    const proxy = await cuttableProxy(s.port);
    const config = await loadKubeconfigConfig({ path: s.kubeconfig });
    const viaProxy = new RestClient({ ...config, server: `https://127.0.0.1:${proxy.port}` }, { component: 'recovery-test', qps: -1, maxConnectionRetries: 0 });
    for (const name of ['keep', 'doomed']) await configmaps.create({ metadata: { namespace: 'partition', name }, data: { v: name } });
    const inf = new SharedInformer(viaProxy.resourceFor<ConfigMap>('ConfigMap'), { namespace: 'partition', initialBackoffMs: 300, maxBackoffMs: 600 });
    const deleted: Array<{ name?: string; data?: Record<string, string> }> = [];
    const added: string[] = [];
    inf.addEventHandler({ onAdd: (o) => added.push(o.metadata?.name ?? ''), onDelete: (o) => deleted.push({ name: o.metadata?.name, data: o.data }) });
    const ac = new AbortController();
    inf.start(ac.signal);
    try {
      assert.equal(await inf.waitForSync(ac.signal), true);
      const rvBefore = Number(inf.lastSyncResourceVersion());
      proxy.cut();
      await configmaps.delete('partition', 'doomed');
      await configmaps.create({ metadata: { namespace: 'partition', name: 'born' } });
      for (let i = 0; i < 5; i++) await configmaps.create({ metadata: { namespace: 'churn', name: `c${i}` } });
      // Wait until a watch from the informer's resourceVersion is refused as too old.
      await until(
        'compaction to pass the informer’s resourceVersion',
        async () => {
          const r = await s.kubectl(['get', '--raw', `/api/v1/namespaces/partition/configmaps?watch=true&resourceVersion=${rvBefore}&timeoutSeconds=1`], { timeoutMs: 5000 });
          return r.stdout.includes('"code":410');
        },
        20_000,
      );
      const relistsBefore = inf.stats.relistsAfterGone;
      proxy.heal();
      await until('the informer to relist', () => inf.stats.relistsAfterGone > relistsBefore && deleted.length > 0 && added.includes('born'));
      assert.deepEqual(deleted, [{ name: 'doomed', data: { v: 'doomed' } }], 'the missed delete arrives with the last state the cache knew');
      assert.deepEqual(inf.list().map((c) => c.metadata?.name).sort(), ['born', 'keep', 'kube-root-ca.crt']);
    } finally {
      ac.abort();
      viaProxy.close();
      await proxy.close();
    }
  });
});
