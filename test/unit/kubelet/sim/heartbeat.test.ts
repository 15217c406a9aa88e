// The heartbeat wheel with a fake clock and an in-memory stand-in for the API (a test double of the
// three calls it makes): renewals spread over the interval, status at the report frequency or when
// marked dirty, conflicts re-read once, failures back off, a deleted node stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { ApiError } from '../../../../src/client/apiError.js';
import { FakeClock } from '../../../../src/client/clock.js';
import type { RestClient } from '../../../../src/client/restClient.js';
import { NodeHeartbeat, type SimulatedNodeRecord } from '../../../../src/kubelet/sim/heartbeat.js';
import { simulatedNodeSpecs } from '../../../../src/kubelet/sim/simulatedNodes.js';

const apiError = (code: number, reason: string) => new ApiError({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message: reason });

class FakeApi {
  leases = new Map<string, Lease>();
  rv = 0;
  calls: string[] = [];
  failNext: Array<{ op: string; err: ApiError }> = [];
  deletedNodes = new Set<string>();
  private fail(op: string): void {
    const i = this.failNext.findIndex((f) => f.op === op);
    if (i >= 0) throw this.failNext.splice(i, 1)[0]!.err;
  }
  client(): RestClient {
    const leaseClient = {
      create: async (l: Lease) => {
        this.calls.push(`create ${l.metadata!.name}`);
        this.fail('create');
        if (this.leases.has(l.metadata!.name!)) throw apiError(409, 'AlreadyExists');
        const stored = { ...l, metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
        this.leases.set(l.metadata!.name!, stored);
        return stored;
      },
      get: async (_ns: string, name: string) => {
        this.calls.push(`get ${name}`);
        const l = this.leases.get(name);
        if (!l) throw apiError(404, 'NotFound');
        return l;
      },
      update: async (l: Lease) => {
        this.calls.push(`update ${l.metadata!.name}`);
        this.fail('update');
        const cur = this.leases.get(l.metadata!.name!);
        if (!cur) throw apiError(404, 'NotFound');
        if (cur.metadata!.resourceVersion !== l.metadata!.resourceVersion) throw apiError(409, 'Conflict');
        const stored = { ...l, metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
        this.leases.set(l.metadata!.name!, stored);
        return stored;
      },
    };
    const nodeClient = {
      patch: async (_ns: undefined, name: string) => {
        this.calls.push(`status ${name}`);
        if (this.deletedNodes.has(name)) throw apiError(404, 'NotFound');
        return {};
      },
    };
    return { resource: (_g: string, _v: string, plural: string) => (plural === 'leases' ? leaseClient : nodeClient) } as unknown as RestClient;
  }
}

function records(n: number, clock: FakeClock): SimulatedNodeRecord[] {
  return simulatedNodeSpecs({ nodes: n }).map((spec) => ({ spec, uid: `uid-${spec.name}`, podCIDR: undefined, lease: undefined, transitionMs: clock.now(), lastStatusMs: clock.now(), statusDirty: false, gone: false, busy: false, failures: 0, nextRenewAtMs: 0, retryAtMs: 0 }));
}

const settle = () => new Promise((r) => setImmediate(r));
async function advance(clock: FakeClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.step(step);
    await settle();
    await settle();
  }
}

test('every node renews once per interval, spread over it, with an owned lease', async () => {
  const clock = new FakeClock(1_000_000);
  const api = new FakeApi();
  const nodes = records(10, clock);
  const hb = new NodeHeartbeat({ client: api.client(), nodes, leaseDurationSeconds: 40, renewIntervalMs: 1000, statusReportIntervalMs: 60_000, concurrency: 4, clock });
  hb.start();
  await advance(clock, 500);
  const firstHalf = api.calls.filter((c) => c.startsWith('create')).length;
  assert.ok(firstHalf >= 4 && firstHalf <= 6, `about half the nodes in half the interval, got ${firstHalf}`);
  await advance(clock, 500);
  assert.equal(api.leases.size, 10);
  await advance(clock, 1950);
  assert.equal(hb.stats.leaseRenewals, 30, 'three renewals each in three intervals');
  assert.equal(api.calls.filter((c) => c.startsWith('status')).length, 0, 'no status before the report frequency');
  const l = api.leases.get('k8ts-sim-3')!;
  assert.deepEqual(l.metadata?.ownerReferences?.[0]?.uid, 'uid-k8ts-sim-3');
  assert.equal(l.spec?.holderIdentity, 'k8ts-sim-3');
  await hb.stop();
});

test('status is posted at the report frequency, and at once when marked dirty', async () => {
  const clock = new FakeClock(0);
  const api = new FakeApi();
  const nodes = records(2, clock);
  const hb = new NodeHeartbeat({ client: api.client(), nodes, leaseDurationSeconds: 40, renewIntervalMs: 1000, statusReportIntervalMs: 5000, concurrency: 2, clock });
  hb.start();
  await advance(clock, 4000);
  assert.equal(hb.stats.statusUpdates, 0);
  await advance(clock, 1600);
  assert.equal(hb.stats.statusUpdates, 2);
  hb.markDirty(nodes[0]!);
  await advance(clock, 60);
  assert.equal(hb.stats.statusUpdates, 3);
  await hb.stop();
});

test('a conflicting lease is re-read and written once more; failures back off; a deleted node stops', async () => {
  const clock = new FakeClock(0);
  const api = new FakeApi();
  const nodes = records(1, clock);
  const hb = new NodeHeartbeat({ client: api.client(), nodes, leaseDurationSeconds: 40, renewIntervalMs: 1000, statusReportIntervalMs: 1_000_000, concurrency: 1, clock });
  await hb.heartbeat(nodes[0]!);
  // Someone else bumped the lease: our cached copy is stale.
  api.leases.set('k8ts-sim-0', { ...api.leases.get('k8ts-sim-0')!, metadata: { ...api.leases.get('k8ts-sim-0')!.metadata, resourceVersion: 'other' } });
  api.calls = [];
  await hb.heartbeat(nodes[0]!);
  assert.deepEqual(api.calls, ['update k8ts-sim-0', 'get k8ts-sim-0', 'update k8ts-sim-0']);

  hb.start();
  api.failNext.push({ op: 'update', err: apiError(500, 'InternalError') }, { op: 'update', err: apiError(500, 'InternalError') });
  api.calls = [];
  await advance(clock, 60);
  assert.equal(nodes[0]!.failures, 1, 'the first tick renews and fails');
  await advance(clock, 150);
  assert.equal(api.calls.length, 1, 'no retry before 200 ms');
  await advance(clock, 50);
  assert.equal(nodes[0]!.failures, 2, 'retried after 200 ms and failed again');
  await advance(clock, 350);
  assert.equal(nodes[0]!.failures, 2, 'no retry before 400 ms');
  await advance(clock, 100);
  assert.equal(nodes[0]!.failures, 0, 'retried after 400 ms and succeeded');

  api.deletedNodes.add('k8ts-sim-0');
  hb.markDirty(nodes[0]!);
  await advance(clock, 50);
  assert.equal(nodes[0]!.gone, true);
  api.calls = [];
  await advance(clock, 3000);
  assert.deepEqual(api.calls, [], 'a deleted node no longer heartbeats');
  await hb.stop();
});
