import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CidrSet, CidrSetError, formatIP, parseIP } from '../../../../src/controllers/nodeipam/cidrSet.js';
import { newCidrSets } from '../../../../src/controllers/nodeipam/nodeIpamController.js';

describe('CIDR allocation', () => {
  const cases: Array<{ name: string; cluster: string; mask: number; want: string[] }> = [
    { name: 'IPv4 /16 cut in /24s, in order', cluster: '10.244.0.0/16', mask: 24, want: ['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24'] },
    { name: 'an unaligned cluster CIDR is masked first', cluster: '10.244.7.9/22', mask: 24, want: ['10.244.4.0/24', '10.244.5.0/24', '10.244.6.0/24'] },
    { name: 'IPv6 /56 cut in /64s', cluster: 'fd00:10:244::/56', mask: 64, want: ['fd00:10:244::/64', 'fd00:10:244:1::/64', 'fd00:10:244:2::/64'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = new CidrSet(c.cluster, c.mask);
      assert.deepEqual([s.allocateNext(), s.allocateNext(), s.allocateNext()], c.want);
    });
  }

  it('skips occupied subnets, reuses released ones round-robin, and reports exhaustion', () => {
    const s = new CidrSet('10.0.0.0/22', 24);
    s.occupy('10.0.1.0/24');
    assert.equal(s.allocateNext(), '10.0.0.0/24');
    assert.equal(s.allocateNext(), '10.0.2.0/24');
    assert.equal(s.allocateNext(), '10.0.3.0/24');
    assert.throws(() => s.allocateNext(), (e: unknown) => e instanceof CidrSetError && e.code === 'NoCIDRsRemaining' && /no remaining CIDRs left to allocate/.test(e.message));
    s.release('10.0.1.0/24');
    assert.equal(s.allocateNext(), '10.0.1.0/24');
    assert.equal(s.allocatedCount, 4);
  });

  it('occupies every node subnet a larger CIDR covers; rejects CIDRs outside the cluster', () => {
    const s = new CidrSet('10.0.0.0/22', 24);
    s.occupy('10.0.2.0/23');
    assert.deepEqual([s.isUsed('10.0.2.0/24'), s.isUsed('10.0.3.0/24'), s.isUsed('10.0.0.0/24')], [true, true, false]);
    assert.throws(() => s.occupy('192.168.0.0/24'), (e: unknown) => e instanceof CidrSetError && e.code === 'OutOfRange');
  });

  it('refuses more than 2^16 node subnets and masks that do not fit', () => {
    assert.throws(() => new CidrSet('10.0.0.0/8', 25), (e: unknown) => e instanceof CidrSetError && e.code === 'SubNetTooBig');
    assert.throws(() => new CidrSet('10.0.0.0/16', 8), CidrSetError);
  });

  it('dual-stack cluster CIDRs give one set per family', () => {
    const sets = newCidrSets('10.244.0.0/16, fd00::/48', 24);
    assert.deepEqual(sets.map((s) => s.allocateNext()), ['10.244.0.0/24', 'fd00::/64']);
  });

  it('formats IPs as Go does', () => {
    for (const ip of ['10.1.2.3', 'fd00::1', '::', '2001:db8:0:1:0:0:0:1']) {
      const p = parseIP(ip)!;
      assert.ok(p, ip);
      assert.equal(formatIP(p.ip, p.bits), ip === '2001:db8:0:1:0:0:0:1' ? '2001:db8:0:1::1' : ip);
    }
  });
});
