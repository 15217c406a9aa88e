import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CorefileError, defaultCorefile, parseCorefile } from '../../../../src/network/dns/corefile.js';

describe('Corefile parsing', () => {
  it("reads kubeadm's default Corefile into every plugin's settings", () => {
    const cfg = parseCorefile(defaultCorefile('cluster.local'));
    assert.equal(cfg.blocks.length, 1);
    const b = cfg.blocks[0]!;
    assert.deepEqual(b.zones, ['.']);
    assert.equal(b.port, 53);
    assert.equal(b.errors, true);
    assert.deepEqual(b.health, { address: ':8080', lameduckMs: 5000 });
    assert.deepEqual(b.ready, { address: ':8181' });
    assert.deepEqual(b.prometheus, { address: ':9153' });
    assert.deepEqual(b.kubernetes, {
      zones: ['cluster.local.', 'in-addr.arpa.', 'ip6.arpa.'],
      podMode: 'insecure',
      fallthrough: ['in-addr.arpa.', 'ip6.arpa.'],
      ttl: 30,
      namespaces: [],
      endpointPodNames: false,
      ignoreEmptyService: false,
    });
    assert.deepEqual(b.forward?.to, ['/etc/resolv.conf']);
    assert.equal(b.forward?.maxConcurrent, 1000);
    assert.equal(b.forward?.from, '.');
    assert.equal(b.cache?.successTtl, 30);
    assert.equal(b.cache?.denialTtl, 30);
    assert.deepEqual(b.cache?.disableSuccess, ['cluster.local.']);
    assert.deepEqual(b.cache?.disableDenial, ['cluster.local.']);
    assert.equal(b.loop, true);
    assert.deepEqual(b.reload, { intervalMs: 30_000, jitterMs: 15_000 });
    assert.equal(b.loadbalance, true);
  });
  it('the default Corefile follows the cluster domain', () => {
    const b = parseCorefile(defaultCorefile('example.test')).blocks[0]!;
    assert.deepEqual(b.kubernetes?.zones, ['example.test.', 'in-addr.arpa.', 'ip6.arpa.']);
    assert.deepEqual(b.cache?.disableSuccess, ['example.test.']);
  });
  it('reads ports in keys, upstream addresses, comments and quoted words', () => {
    const b = parseCorefile('# a comment\ncluster.local:1053 example.org:1053 {\n  forward . 10.0.0.1 "[fd00::1]:5353" 10.0.0.2:5300 # trailing\n  cache\n}\n').blocks[0]!;
    assert.equal(b.port, 1053);
    assert.deepEqual(b.zones, ['cluster.local.', 'example.org.']);
    assert.deepEqual(b.forward?.to, ['10.0.0.1:53', '[fd00::1]:5353', '10.0.0.2:5300']);
    assert.equal(b.cache?.successTtl, 3600);
    assert.equal(b.cache?.denialTtl, 1800);
  });
  it('several server blocks on one port split the name space', () => {
    const cfg = parseCorefile('.:53 {\n forward . 1.1.1.1\n}\nconsul.local:53 {\n forward . 10.150.0.1\n}\n');
    assert.deepEqual(cfg.blocks.map((b) => b.zones[0]), ['.', 'consul.local.']);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an unknown plugin', '.:53 {\n  rewrite name a b\n}', /Corefile:2 .*unknown directive 'rewrite'/],
    ['an unknown kubernetes option', '.:53 {\n kubernetes cluster.local {\n   pods sometimes\n }\n}', /Corefile:3 .*pods must be/],
    ['an unknown kubernetes property', '.:53 {\n kubernetes cluster.local {\n   upstream\n }\n}', /unknown property 'upstream'/],
    ['a TTL out of range', '.:53 {\n kubernetes cluster.local {\n ttl 99999\n }\n}', /ttl must be in range/],
    ['a missing closing brace', '.:53 {\n errors\n', /missing "}"/],
    ['a stray closing brace', '.:53 {\n errors\n}\n}', /unexpected "}"/],
    ['a forward without upstream', '.:53 {\n forward .\n}', /forward needs a zone and at least one upstream/],
    ['a forward to a hostname', '.:53 {\n forward . dns.google\n}', /not an IP address or file/],
    ['a bad cache disable', '.:53 {\n cache {\n disable everything\n }\n}', /must be "success" or "denial"/],
    ['a plugin given twice', '.:53 {\n errors\n errors\n}', /configured twice/],
    ['blocks on different ports', '.:53 {\n errors\n}\nfoo:54 {\n errors\n}', /different ports/],
    ['the same zone in two blocks', '.:53 {\n errors\n}\n.:53 {\n log\n}', /more than one server block/],
    ['a reload interval under 2 s', '.:53 {\n reload 1s\n}', /greater than or equal to 2 seconds/],
  ];
  for (const [what, text, want] of bad) {
    it(`rejects ${what} with the line and a reason`, () => {
      assert.throws(() => parseCorefile(text), (err: unknown) => err instanceof CorefileError && want.test(err.message));
    });
  }
});
