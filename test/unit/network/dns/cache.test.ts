import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from 'dns-packet';
import { cacheKey, ResponseCache } from '../../../../src/network/dns/cache.js';
import { parseCorefile } from '../../../../src/network/dns/corefile.js';
import type { PluginResult } from '../../../../src/network/dns/kubernetesPlugin.js';

function cacheOf(directive: string, clock: { now: number }): ResponseCache {
  return new ResponseCache(parseCorefile(`.:53 {\n${directive}\n}`).blocks[0]!.cache!, () => clock.now);
}
const a = (name: string, ttl: number): Answer => ({ name, type: 'A', class: 'IN', ttl, data: '192.0.2.1' });
const soa = (ttl: number, minimum: number): Answer => ({ name: 'org', type: 'SOA', class: 'IN', ttl, data: { mname: 'ns', rname: 'h', serial: 1, minimum } });
const ok = (answers: Answer[]): PluginResult => ({ rcode: 'NOERROR', answers, authorities: [], additionals: [], authoritative: false, recursionAvailable: true, plugin: 'forward' });
const nx = (): PluginResult => ({ rcode: 'NXDOMAIN', answers: [], authorities: [soa(60, 20)], additionals: [], authoritative: false, plugin: 'forward' });
const key = (name: string) => cacheKey({ name, type: 'A', qclass: 'IN', dnssecOk: false, checkingDisabled: false });
const ttlOf = (r: PluginResult | undefined) => (r?.answers[0] ?? r?.authorities[0]) as { ttl?: number } | undefined;

describe('cache plugin', () => {
  it('serves a positive answer with its TTL counted down, until it expires', () => {
    const clock = { now: 1_000_000 };
    const c = cacheOf('cache 30', clock);
    const put = c.put(key('a.org.'), 'a.org.', ok([a('a.org', 300)]));
    assert.equal(put.stored, 'success');
    assert.equal(ttlOf(put.reply)?.ttl, 30, 'the first reply already shows the capped TTL');
    clock.now += 10_000;
    const hit = c.get(key('a.org.'));
    assert.equal(hit?.type, 'success');
    assert.equal(ttlOf(hit?.result)?.ttl, 20, 'capped at 30, minus 10 s');
    assert.equal(hit?.result.plugin, 'cache');
    clock.now += 20_000;
    assert.equal(c.get(key('a.org.')), undefined);
  });
  it('keeps a record TTL below the cap, but not below the 5 s minimum', () => {
    const clock = { now: 0 };
    const c = cacheOf('cache 30', clock);
    c.put(key('b.org.'), 'b.org.', ok([a('b.org', 2)]));
    assert.equal(ttlOf(c.get(key('b.org.'))?.result)?.ttl, 5);
  });
  it('caches NXDOMAIN in the denial cache for the SOA minimum', () => {
    const clock = { now: 0 };
    const c = cacheOf('cache 30', clock);
    assert.equal(c.put(key('n.org.'), 'n.org.', nx()).stored, 'denial');
    clock.now += 19_000;
    assert.equal(c.get(key('n.org.'))?.type, 'denial');
    clock.now += 2_000;
    assert.equal(c.get(key('n.org.')), undefined);
  });
  it('does not store what "disable success/denial <zone>" excludes', () => {
    const c = cacheOf('cache 30 {\n disable success cluster.local\n disable denial cluster.local\n}', { now: 0 });
    assert.deepEqual(c.put(key('x.svc.cluster.local.'), 'x.svc.cluster.local.', ok([a('x', 30)])), {});
    assert.deepEqual(c.put(key('y.svc.cluster.local.'), 'y.svc.cluster.local.', nx()), {});
    assert.equal(c.put(key('example.org.'), 'example.org.', ok([a('example.org', 30)])).stored, 'success');
  });
  it('does not store truncated answers, or NXDOMAIN without SOA', () => {
    const c = cacheOf('cache 30', { now: 0 });
    assert.deepEqual(c.put(key('t.org.'), 't.org.', { ...ok([a('t', 30)]), truncated: true }), {});
    assert.deepEqual(c.put(key('u.org.'), 'u.org.', { ...nx(), authorities: [] }), {});
  });
  it('keeps SERVFAIL for the servfail duration only', () => {
    const clock = { now: 0 };
    const c = cacheOf('cache 30', clock);
    c.put(key('s.org.'), 's.org.', { rcode: 'SERVFAIL', answers: [], authorities: [], additionals: [], authoritative: false, plugin: 'forward' });
    assert.equal(c.get(key('s.org.'))?.result.rcode, 'SERVFAIL');
    clock.now += 5_000;
    assert.equal(c.get(key('s.org.')), undefined);
  });
  it('evicts the oldest entry when a cache is at capacity', () => {
    const c = cacheOf('cache 30 {\n success 2\n}', { now: 0 });
    c.put(key('1.org.'), '1.org.', ok([a('1.org', 30)]));
    c.put(key('2.org.'), '2.org.', ok([a('2.org', 30)]));
    assert.equal(c.put(key('3.org.'), '3.org.', ok([a('3.org', 30)])).evicted, true);
    assert.equal(c.get(key('1.org.')), undefined);
    assert.ok(c.get(key('3.org.')));
  });
  it('keys on the DNSSEC OK bit, so DO and plain answers are kept apart', () => {
    assert.notEqual(cacheKey({ name: 'a.', type: 'A', qclass: 'IN', dnssecOk: true, checkingDisabled: false }), key('a.'));
  });
});
