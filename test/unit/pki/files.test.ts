import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createCA, describeCertificate, isIssuedBy } from '../../../src/pki/ca.js';
import { isPKIError } from '../../../src/pki/errors.js';
import { apiServerSANs, ensureServerPKI, isDNSName, PKI_FILES, writeFileAtomic, type ServerPKIOptions } from '../../../src/pki/files.js';
import { decodeCertificatePEM, encodePrivateKeyPEM, encodePublicKeyPEM, generateKeyPair } from '../../../src/pki/pem.js';
import { tempDir } from '../../support/tmp.js';

const opts: ServerPKIOptions = { hostname: 'node-1' };
let dir: { path: string; remove(): void };
beforeEach(() => {
  dir = tempDir('k8ts-pki-');
});
afterEach(() => dir.remove());

const read = (name: string): string => readFileSync(join(dir.path, name), 'utf8');
const mode = (name: string): string => (statSync(join(dir.path, name)).mode & 0o777).toString(8);

describe('apiServerSANs', () => {
  const cases: Array<[string, ServerPKIOptions, { dns?: string[]; ips?: string[] }]> = [
    [
      'the defaults are the kubernetes service names, localhost, loopback and the first service IP',
      { hostname: 'node-1' },
      {
        dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost', 'node-1'],
        ips: ['127.0.0.1', '::1', '10.96.0.1'],
      },
    ],
    ['an upper-case host name is lowered', { hostname: 'Node-1.Example.COM' }, { dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost', 'node-1.example.com'] }],
    ['another DNS domain and service IP', { hostname: 'n', dnsDomain: 'corp.local', serviceIP: 'fd00::1' }, { ips: ['127.0.0.1', '::1', 'fd00::1'] }],
    ['a specific bind address is a SAN', { hostname: 'n', bindAddress: '192.168.0.7' }, { ips: ['127.0.0.1', '::1', '10.96.0.1', '192.168.0.7'] }],
    ['0.0.0.0 and :: are not', { hostname: 'n', bindAddress: '0.0.0.0' }, { ips: ['127.0.0.1', '::1', '10.96.0.1'] }],
    ['extra SANs split into IPs and names, duplicates dropped', { hostname: 'n', extraSANs: ['10.0.0.1', '*.apps.example.com', 'API.example.com', '127.0.0.1'] }, { ips: ['127.0.0.1', '::1', '10.96.0.1', '10.0.0.1'] }],
  ];
  for (const [name, o, want] of cases) {
    it(name, () => {
      const got = apiServerSANs(o);
      if (want.dns) assert.deepEqual(got.dnsNames, want.dns);
      if (want.ips) assert.deepEqual(got.ipAddresses, want.ips);
    });
  }
  it('names with a wildcard keep it', () => assert.ok(apiServerSANs({ hostname: 'n', extraSANs: ['*.apps.example.com'] }).dnsNames.includes('*.apps.example.com')));
  const invalid: Array<[string, ServerPKIOptions]> = [
    ['an extra SAN with a space', { hostname: 'n', extraSANs: ['my host'] }],
    ['an extra SAN with an underscore', { hostname: 'n', extraSANs: ['a_b.example.com'] }],
    ['a host name with a slash', { hostname: 'a/b' }],
  ];
  for (const [name, o] of invalid) it(`refuses ${name}`, () => assert.throws(() => apiServerSANs(o), (e: unknown) => isPKIError(e, 'InvalidSAN')));
  const dns: Array<[string, boolean]> = [['a.b', true], ['*.a.b', true], ['*', false], ['-a', false], ['a..b', false], ['x'.repeat(254), false]];
  for (const [n, ok] of dns) it(`isDNSName(${n.slice(0, 12)}) is ${ok}`, () => assert.equal(isDNSName(n), ok));
});

describe('ensureServerPKI', () => {
  it('creates the whole PKI on a cold start, keys 0600 and certificates 0644', async () => {
    const pki = await ensureServerPKI(dir.path, opts);
    assert.deepEqual(readdirSync(dir.path).sort(), Object.values(PKI_FILES).sort());
    assert.deepEqual([...pki.written].sort(), Object.values(PKI_FILES).sort());
    for (const f of ['ca.key', 'apiserver.key', 'admin.key', 'sa.key']) assert.equal(mode(f), '600', f);
    for (const f of ['ca.crt', 'apiserver.crt', 'admin.crt', 'sa.pub']) assert.equal(mode(f), '644', f);
    assert.equal((statSync(dir.path).mode & 0o777).toString(8), '700');
    const admin = describeCertificate(pki.admin.certPem);
    assert.deepEqual([admin.commonName, admin.organizations], ['kubernetes-admin', ['system:masters']]);
    assert.ok(await isIssuedBy(decodeCertificatePEM(pki.apiserver.certPem), pki.ca.cert));
    assert.match(read('sa.key'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(read('sa.pub'), /^-----BEGIN PUBLIC KEY-----/);
  });

  it('keeps everything, and writes nothing, on a warm start', async () => {
    await ensureServerPKI(dir.path, opts);
    const before = Object.fromEntries(Object.values(PKI_FILES).map((f) => [f, read(f)]));
    const pki = await ensureServerPKI(dir.path, opts);
    assert.deepEqual(pki.written, []);
    assert.deepEqual(Object.fromEntries(Object.values(PKI_FILES).map((f) => [f, read(f)])), before);
    assert.equal(pki.ca.certPem, before['ca.crt']);
  });

  it('re-issues only the serving certificate, with the same key, when a SAN is missing', async () => {
    await ensureServerPKI(dir.path, opts);
    const [caBefore, keyBefore] = [read('ca.crt'), read('apiserver.key')];
    const pki = await ensureServerPKI(dir.path, { ...opts, extraSANs: ['api.example.com', '10.1.2.3'] });
    assert.deepEqual(pki.written, ['apiserver.crt']);
    assert.equal(read('ca.crt'), caBefore);
    assert.equal(read('apiserver.key'), keyBefore);
    const info = describeCertificate(read('apiserver.crt'));
    assert.ok(info.dnsNames.includes('api.example.com') && info.ipAddresses.includes('10.1.2.3'));
    // Asking for less than the certificate has is no reason to re-issue.
    assert.deepEqual((await ensureServerPKI(dir.path, opts)).written, []);
  });

  it('renews leaves that expire within the renewal window, never the CA', async () => {
    await ensureServerPKI(dir.path, opts);
    const ca = read('ca.crt');
    const later = new Date(Date.now() + 300 * 86_400_000);
    const pki = await ensureServerPKI(dir.path, { ...opts, now: later });
    assert.deepEqual([...pki.written].sort(), ['admin.crt', 'apiserver.crt']);
    assert.equal(read('ca.crt'), ca);
    assert.ok(describeCertificate(read('admin.crt')).notAfter.getTime() > later.getTime() + 300 * 86_400_000);
  });

  it('re-issues leaves that another CA signed', async () => {
    await ensureServerPKI(dir.path, opts);
    const other = await createCA();
    writeFileSync(join(dir.path, 'ca.crt'), other.certPem);
    writeFileSync(join(dir.path, 'ca.key'), await encodePrivateKeyPEM(other.key));
    const pki = await ensureServerPKI(dir.path, opts);
    assert.deepEqual([...pki.written].sort(), ['admin.crt', 'apiserver.crt']);
    assert.ok(await isIssuedBy(decodeCertificatePEM(read('admin.crt')), other.cert));
  });

  it('creates a lost leaf key and certificate again', async () => {
    await ensureServerPKI(dir.path, opts);
    rmSync(join(dir.path, 'admin.key'));
    const pki = await ensureServerPKI(dir.path, opts);
    assert.deepEqual([...pki.written].sort(), ['admin.crt', 'admin.key']);
  });

  it('re-makes a damaged leaf certificate, keeping its key', async () => {
    await ensureServerPKI(dir.path, opts);
    const key = read('apiserver.key');
    writeFileSync(join(dir.path, 'apiserver.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assert.deepEqual((await ensureServerPKI(dir.path, opts)).written, ['apiserver.crt']);
    assert.equal(read('apiserver.key'), key);
  });

  it('re-makes a leaf whose key is damaged, with a new key', async () => {
    await ensureServerPKI(dir.path, opts);
    writeFileSync(join(dir.path, 'admin.key'), 'garbage');
    assert.deepEqual([...(await ensureServerPKI(dir.path, opts)).written].sort(), ['admin.crt', 'admin.key']);
  });

  it('derives a lost sa.pub from sa.key', async () => {
    await ensureServerPKI(dir.path, opts);
    const pub = read('sa.pub');
    rmSync(join(dir.path, 'sa.pub'));
    assert.deepEqual((await ensureServerPKI(dir.path, opts)).written, ['sa.pub']);
    assert.equal(read('sa.pub'), pub);
  });

  const refusals: Array<[string, (path: string) => Promise<void>, string]> = [
    ['a CA certificate without its key', async (p) => rmSync(join(p, 'ca.key')), 'PartialFiles'],
    ['a CA key without its certificate', async (p) => rmSync(join(p, 'ca.crt')), 'PartialFiles'],
    ['sa.pub without sa.key', async (p) => rmSync(join(p, 'sa.key')), 'PartialFiles'],
    ['an sa.pub of another key', async (p) => writeFileSync(join(p, 'sa.pub'), await encodePublicKeyPEM((await generateKeyPair()).publicKey)), 'KeyMismatch'],
    ['a CA key of another CA', async (p) => writeFileSync(join(p, 'ca.key'), await encodePrivateKeyPEM((await createCA()).key)), 'KeyMismatch'],
  ];
  for (const [name, damage, code] of refusals) {
    it(`refuses ${name} (${code}) instead of replacing it`, async () => {
      await ensureServerPKI(dir.path, opts);
      await damage(dir.path);
      await assert.rejects(ensureServerPKI(dir.path, opts), (e: unknown) => isPKIError(e, code as never));
    });
  }
});

describe('writeFileAtomic', () => {
  it('replaces a file with the asked mode and leaves no temp file', async () => {
    const p = join(dir.path, 'f');
    writeFileSync(p, 'old', { mode: 0o644 });
    await writeFileAtomic(p, 'new', 0o600);
    assert.equal(readFileSync(p, 'utf8'), 'new');
    assert.equal(mode('f'), '600');
    assert.deepEqual(readdirSync(dir.path), ['f']);
  });
});
