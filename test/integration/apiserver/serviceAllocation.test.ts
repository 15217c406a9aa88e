// Service allocation over a real store (SQLite): the Service registry with its strategy, the
// RangeAllocation objects, and the repair loops, without HTTP in between.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { ResourceRegistry } from '../../../src/apiserver/registry.js';
import { ServiceAllocator, NODE_PORTS_KEY, SERVICE_IPS_KEY } from '../../../src/apiserver/services/allocator.js';
import { parseServiceNetwork } from '../../../src/apiserver/services/config.js';
import { ServiceAllocationRepair, type RepairEvent } from '../../../src/apiserver/services/repair.js';
import { serviceStrategy } from '../../../src/apiserver/services/strategy.js';
import { StatusError } from '../../../src/apiserver/status.js';
import type { K8sObject } from '../../../src/apiserver/watchCache.js';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../../src/storage/store.js';
import { tempDir } from '../../support/tmp.js';

const SERVICES = BUILTIN_RESOURCES.find((t) => t.group === '' && t.plural === 'services')!;

const svc = (name: string, spec: Record<string, unknown> = {}): K8sObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
});

describe('Service allocation over SQLite', () => {
  const dir = tempDir('k8ts-alloc-');
  let store: KVStore;
  let alloc: ServiceAllocator;
  let reg: ResourceRegistry;
  let events: RepairEvent[];
  let repair: ServiceAllocationRepair;

  const open = (range = '10.96.0.0/24', ports = '30000-30099') => {
    store = new KVStore(SqliteKV.open({ path: join(dir.path, 'state.db') }), { compaction: false });
    alloc = new ServiceAllocator(store, parseServiceNetwork(range, ports));
    reg = new ResourceRegistry(SERVICES, store);
    reg.strategy = serviceStrategy(alloc);
    events = [];
    repair = new ServiceAllocationRepair(alloc, {
      listServices: async () => (await store.list(reg.prefix)).items.map((i) => JSON.parse(i.value.toString()) as K8sObject),
      recordEvent: async (e) => void events.push(e),
    });
  };
  const create = async (o: K8sObject) => {
    reg.prepareForCreate(o);
    return reg.create(o);
  };
  const storedIPs = async () => {
    const r = (await alloc.ipRegistries.get('IPv4')!.read()).range;
    const out: string[] = [];
    r.forEach((ip) => out.push(String(ip.value & 0xffn)));
    return out;
  };

  before(() => open());
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('gives 200 concurrent creates 200 different ClusterIPs and records each in the range', async () => {
    const created = await Promise.all(Array.from({ length: 200 }, (_, i) => create(svc(`s${i}`))));
    const ips = created.map((s) => s.spec.clusterIP as string);
    assert.equal(new Set(ips).size, 200);
    for (const s of created) assert.deepEqual(s.spec.clusterIPs, [s.spec.clusterIP]);
    assert.equal((await storedIPs()).length, 200);
    assert.ok(await store.get(SERVICE_IPS_KEY));
  });

  it('releases what a failed create took, so nothing leaks', async () => {
    const before = (await storedIPs()).length;
    // The name is taken: the store refuses the write after the IP was allocated.
    await assert.rejects(create(svc('s0')), (e: unknown) => e instanceof StatusError && e.reason === 'AlreadyExists');
    // A validation failure after allocation gives the IP and node port back too.
    await assert.rejects(create(svc('badport', { type: 'NodePort', ports: [{ port: 80, name: 'x_y' }] })), (e: unknown) => e instanceof StatusError && e.code === 422);
    assert.equal((await storedIPs()).length, before);
    const ports = (await alloc.portRegistry.read()).range;
    assert.equal(ports.bitmap.used(), 0);
  });

  it('hands out every node port once under concurrency and shares one between TCP and UDP of a port', async () => {
    const created = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        create(svc(`np${i}`, { type: 'NodePort', ports: [{ name: 'tcp', port: 53, protocol: 'TCP' }, { name: 'udp', port: 53, protocol: 'UDP' }] })),
      ),
    );
    const ports = created.map((s) => s.spec.ports[0].nodePort as number);
    assert.equal(new Set(ports).size, 40);
    for (const s of created) assert.equal(s.spec.ports[1].nodePort, s.spec.ports[0].nodePort);
    assert.equal((await alloc.portRegistry.read()).range.bitmap.used(), 40);
  });

  it('releases node ports on a change to ClusterIP and everything on delete', async () => {
    const np = await reg.get('default', 'np0');
    const port = np.spec.ports[0].nodePort as number;
    const next = structuredClone(np);
    next.spec.type = 'ClusterIP';
    const updated = await reg.update(np, next);
    assert.equal(updated.spec.ports[0].nodePort, undefined);
    assert.equal(updated.spec.externalTrafficPolicy, undefined);
    assert.equal((await alloc.portRegistry.read()).range.has(port), false);
    const ip = updated.spec.clusterIP as string;
    await reg.delete('default', 'np0');
    assert.equal((await storedIPs()).includes(ip.split('.')[3]!), false);
  });

  it('allocates node ports and a health check port when a Service becomes a Local LoadBalancer', async () => {
    const cur = await reg.get('default', 's1');
    const next = structuredClone(cur);
    Object.assign(next.spec, { type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
    const lb = await reg.update(cur, next);
    assert.ok(lb.spec.ports[0].nodePort >= 30000);
    assert.ok(lb.spec.healthCheckNodePort >= 30000 && lb.spec.healthCheckNodePort !== lb.spec.ports[0].nodePort);
    assert.equal(lb.spec.allocateLoadBalancerNodePorts, true);
    assert.equal(lb.spec.clusterIP, cur.spec.clusterIP);
  });

  it('finds nothing to repair in a consistent store', async () => {
    await repair.runOnce();
    assert.deepEqual(events, []);
  });

  it('keeps a leaked IP for two repair runs and releases it on the third', async () => {
    // A crash between allocation and the Service write leaves an allocated IP no Service holds.
    const leaked = await alloc.ipRegistries.get('IPv4')!.apply((r) => r.allocateNext());
    const held = () => storedIPs().then((l) => l.includes(String(leaked.value & 0xffn)));
    await repair.runOnce();
    assert.equal(await held(), true);
    await repair.runOnce();
    assert.equal(await held(), true);
    await repair.runOnce();
    assert.equal(await held(), false);
  });

  it('rebuilds lost allocations from the stored Services after a restart and reports them', async () => {
    await store.close();
    open();
    // Simulate a lost range object: the Services still hold their IPs and ports.
    await store.delete(SERVICE_IPS_KEY);
    await store.delete(NODE_PORTS_KEY);
    await repair.runOnce();
    assert.ok(events.some((e) => e.reason === 'ClusterIPNotAllocated' && /^Cluster IP \[IPv4\]:10\.96\.0\.\d+ is not allocated; repairing$/.test(e.message)));
    assert.ok(events.some((e) => e.reason === 'PortNotAllocated' && /^Port \d+ is not allocated; repairing$/.test(e.message)));
    const count = (await storedIPs()).length;
    assert.equal(count, (await store.list(reg.prefix)).items.length);
    // New Services after the restart still get unused IPs.
    const fresh = await create(svc('after-restart'));
    const all = (await store.list(reg.prefix)).items.map((i) => JSON.parse(i.value.toString()).spec.clusterIP as string);
    assert.equal(all.filter((ip) => ip === fresh.spec.clusterIP).length, 1);
  });

  it('reports duplicate and out-of-range ClusterIPs as events', async () => {
    const dupOf = (await reg.get('default', 's2')).spec.clusterIP as string;
    for (const [name, ip] of [['dup', dupOf], ['outside', '10.1.0.5']] as const) {
      const o = svc(name, { clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', type: 'ClusterIP' });
      await store.create(`${reg.prefix}default/${name}`, Buffer.from(JSON.stringify(o)));
    }
    events = [];
    await repair.runOnce();
    assert.ok(events.some((e) => e.reason === 'ClusterIPAlreadyAllocated' && e.message === `Cluster IP [IPv4]:${dupOf} was assigned to multiple services; please recreate service`));
    assert.ok(events.some((e) => e.reason === 'ClusterIPOutOfRange' && e.message === 'Cluster IP [IPv4]:10.1.0.5 is not within the service CIDR 10.96.0.0/24; please recreate service'));
  });
});

describe('dual-stack Service allocation', () => {
  const dir = tempDir('k8ts-alloc-ds-');
  const store = new KVStore(SqliteKV.open({ path: join(dir.path, 'state.db') }), { compaction: false });
  const alloc = new ServiceAllocator(store, parseServiceNetwork('10.96.0.0/16,fd00:96::/112'));
  const reg = new ResourceRegistry(SERVICES, store);
  reg.strategy = serviceStrategy(alloc);
  after(async () => {
    await store.close();
    dir.remove();
  });
  const create = async (o: K8sObject) => {
    reg.prepareForCreate(o);
    return reg.create(o);
  };

  it('gives a PreferDualStack Service one IP of each family, primary first', async () => {
    const s = await create(svc('ds', { ipFamilyPolicy: 'PreferDualStack' }));
    assert.deepEqual(s.spec.ipFamilies, ['IPv4', 'IPv6']);
    assert.match(s.spec.clusterIPs[0], /^10\.96\./);
    assert.match(s.spec.clusterIPs[1], /^fd00:96::/);
  });

  it('gives a SingleStack IPv6 Service an IPv6 address', async () => {
    const s = await create(svc('v6', { ipFamilies: ['IPv6'] }));
    assert.equal(s.spec.ipFamilyPolicy, 'SingleStack');
    assert.match(s.spec.clusterIP, /^fd00:96::/);
  });

  it('upgrades a single-stack Service to dual-stack and downgrades it again', async () => {
    const cur = await reg.get('default', 'v6');
    const up = structuredClone(cur);
    up.spec.ipFamilyPolicy = 'RequireDualStack';
    const upgraded = await reg.update(cur, up);
    assert.deepEqual(upgraded.spec.ipFamilies, ['IPv6', 'IPv4']);
    assert.equal(upgraded.spec.clusterIPs.length, 2);
    const down = structuredClone(upgraded);
    down.spec.ipFamilyPolicy = 'SingleStack';
    const downgraded = await reg.update(upgraded, down);
    assert.deepEqual(downgraded.spec.clusterIPs, [cur.spec.clusterIP]);
    const v4 = (await alloc.ipRegistries.get('IPv4')!.read()).range;
    assert.equal(v4.bitmap.used(), 1, 'only the dual-stack Service holds an IPv4 address again');
  });
});
