// The pure parts of Service allocation: IP/CIDR reading and printing, the allocation bitmaps with
// upstream's static/dynamic split, and their RangeAllocation snapshots.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstServiceIP, parseServiceNetwork } from '../../../src/apiserver/services/config.js';
import { formatIP, parseCIDR, parseIP } from '../../../src/apiserver/services/ip.js';
import { AllocationBitmap, IPRange, PortRange, parsePortRange, staticBlockSize } from '../../../src/apiserver/services/ranges.js';

describe('parseIP and formatIP print addresses as Go does', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['a dotted quad reads as itself', '10.96.0.10', '10.96.0.10'],
    ['leading zeros in a quad are decimal, as ParseIPSloppy reads them', '010.096.000.001', '10.96.0.1'],
    ['an octet over 255 is not an address', '10.96.0.256', undefined],
    ['three octets are not an address', '10.96.0', undefined],
    ['IPv6 compresses the longest zero run', '2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['IPv6 keeps a single zero group', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['IPv6 prints lower case', 'FD00::A', 'fd00::a'],
    ['an IPv4-mapped IPv6 address is IPv4', '::ffff:10.0.0.1', '10.0.0.1'],
    ['the IPv6 unspecified address', '::', '::'],
    ['a hostname is not an address', 'example.com', undefined],
    ['two double colons are not an address', '1::2::3', undefined],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      const ip = parseIP(input);
      assert.equal(ip ? formatIP(ip) : undefined, want);
    });
  }
});

describe('parseServiceNetwork reads the apiserver flags', () => {
  it('defaults to 10.96.0.0/12 and 30000-32767 with the kubernetes Service at 10.96.0.1', () => {
    const n = parseServiceNetwork();
    assert.equal(n.clusterIPRanges.length, 1);
    assert.deepEqual(n.nodePortRange, { base: 30000, size: 2768 });
    assert.equal(firstServiceIP(n), '10.96.0.1');
  });
  it('takes an IPv4,IPv6 pair for a dual-stack cluster', () => {
    const n = parseServiceNetwork('10.43.0.0/16,fd00:43::/112');
    assert.deepEqual(n.clusterIPRanges.map((c) => c.family), ['IPv4', 'IPv6']);
    assert.equal(firstServiceIP(n), '10.43.0.1');
  });
  const bad: Array<[string, string, string, RegExp]> = [
    ['refuses two ranges of one family', '10.0.0.0/16,10.1.0.0/16', '30000-32767', /must be of different IP families/],
    ['refuses a range larger than the bitmap holds', '10.0.0.0/8', '30000-32767', /too large; for 32-bit addresses, the mask must be >= 12/],
    ['refuses a CIDR that does not parse', '10.0.0.0/33', '30000-32767', /is not a valid CIDR/],
    ['refuses a port range that does not parse', '10.96.0.0/12', '32767-30000', /--service-node-port-range/],
  ];
  for (const [name, ips, ports, want] of bad) it(name, () => assert.throws(() => parseServiceNetwork(ips, ports), want));
});

describe('static block sizes follow upstream calculateRangeOffset', () => {
  const cases: Array<[string, number, number, number, number, number]> = [
    ['a /12 of service IPs keeps 256 addresses static', 1 << 20, 16, 256, 16, 256],
    ['a /24 keeps 16 addresses static', 256, 16, 256, 16, 16],
    ['a /28 has no static block', 16, 16, 256, 16, 0],
    ['the default node port range keeps 86 ports static', 2768, 16, 128, 32, 86],
    ['a small port range keeps 16 ports static', 100, 16, 128, 32, 16],
  ];
  for (const [name, size, lo, hi, step, want] of cases) it(name, () => assert.equal(staticBlockSize(size, lo, hi, step), want));
});

describe('IPRange', () => {
  const range = (cidr: string) => new IPRange(parseCIDR(cidr)!);
  it('excludes the network and broadcast addresses of an IPv4 range', () => {
    const r = range('10.0.0.0/29');
    assert.equal(r.contains(parseIP('10.0.0.0')!), false);
    assert.equal(r.contains(parseIP('10.0.0.1')!), true);
    assert.equal(r.contains(parseIP('10.0.0.6')!), true);
    assert.equal(r.contains(parseIP('10.0.0.7')!), false);
    assert.equal(r.bitmap.max, 6);
  });
  it('hands out every address once and then reports the range full', () => {
    const r = range('10.0.0.0/29');
    const got = new Set<string>();
    for (let i = 0; i < 6; i++) got.add(formatIP(r.allocateNext()));
    assert.equal(got.size, 6);
    assert.throws(() => r.allocateNext(), { code: 'Full', message: 'range is full' });
  });
  it('refuses an address outside the range with upstream message', () => {
    assert.throws(() => range('10.96.0.0/12').allocate(parseIP('10.0.0.5')!), {
      code: 'NotInRange',
      message: 'the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12',
    });
  });
  it('refuses an address taken twice', () => {
    const r = range('10.96.0.0/12');
    r.allocate(parseIP('10.96.0.10')!);
    assert.throws(() => r.allocate(parseIP('10.96.0.10')!), { code: 'Allocated', message: 'provided IP is already allocated' });
  });
  it('allocates dynamically from above the static block while it has room', () => {
    const r = range('10.96.0.0/24');
    for (let i = 0; i < 200; i++) {
      const ip = r.allocateNext();
      assert.ok(ip.value - parseIP('10.96.0.1')!.value >= 16n, `${formatIP(ip)} is in the static block`);
    }
  });
  it('uses the static block only when the dynamic block is full', () => {
    const r = range('10.96.0.0/24');
    for (let i = 0; i < 254 - 16; i++) r.allocateNext();
    const next = r.allocateNext();
    assert.ok(next.value - parseIP('10.96.0.1')!.value < 16n);
  });
  it('bounds an IPv6 range to 64Ki addresses', () => {
    const r = range('fd00::/64');
    assert.equal(r.bitmap.max, 65535);
    assert.equal(r.contains(parseIP('fd00::1')!), true);
    assert.equal(r.contains(parseIP('fd00::1:0')!), false);
  });
});

describe('PortRange', () => {
  it('reads upstream port range forms', () => {
    assert.deepEqual(parsePortRange('30000-32767'), { base: 30000, size: 2768 });
    assert.deepEqual(parsePortRange('30000+10'), { base: 30000, size: 11 });
    assert.deepEqual(parsePortRange('8080'), { base: 8080, size: 1 });
    assert.equal(parsePortRange('x'), undefined);
  });
  it('refuses a port outside the range with upstream message', () => {
    const r = new PortRange({ base: 30000, size: 2768 });
    assert.throws(() => r.allocate(8080), { message: 'provided port is not in the valid range. The range of valid ports is 30000-32767' });
    r.allocate(30080);
    assert.throws(() => r.allocate(30080), { message: 'provided port is already allocated' });
  });
});

describe('AllocationBitmap snapshots are big.Int bytes', () => {
  const cases: Array<[string, number[], string]> = [
    ['nothing taken is an empty byte string', [], ''],
    ['offset 0 is the lowest bit of the last byte', [0], '01'],
    ['offset 8 needs a second, more significant byte', [8], '0100'],
    ['offsets 1 and 9', [1, 9], '0202'],
  ];
  for (const [name, offsets, hex] of cases) {
    it(name, () => {
      const b = new AllocationBitmap(64);
      for (const o of offsets) b.allocate(o);
      assert.equal(b.snapshot().toString('hex'), hex);
      const c = new AllocationBitmap(64);
      c.restore(b.snapshot());
      const back: number[] = [];
      c.forEach((o) => back.push(o));
      assert.deepEqual(back, offsets);
      assert.equal(c.used(), offsets.length);
    });
  }
});
