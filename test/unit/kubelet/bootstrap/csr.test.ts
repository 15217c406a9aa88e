import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import {
  KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
  KUBE_APISERVER_CLIENT_SIGNER,
  KUBELET_SERVING_SIGNER,
  kubeletClientCSRProblem,
  parseCSR,
  prepareCSRForCreate,
  prepareCSRForUpdate,
  validateCSRCreate,
  validateCSRUpdate,
  validateSignerName,
  type ParsedCSR,
} from '../../../../src/apiserver/csr.js';
import { decideApproval, defaultApprovalAuthorizer } from '../../../../src/controllers/certificates/approver.js';
import { cleanupReason } from '../../../../src/controllers/certificates/cleaner.js';
import { certificateDurationSeconds, decideSigning } from '../../../../src/controllers/certificates/signer.js';
import { createCA, createCSR, issueClientCertificate } from '../../../../src/pki/ca.js';
import { generateKeyPair } from '../../../../src/pki/pem.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const signal = new AbortController().signal;

let kubeletRequest = '';
let servingRequest = '';
let mastersRequest = '';
let badSignature = '';

before(async () => {
  const key = await generateKeyPair('ECDSA-P256');
  kubeletRequest = await createCSR({ commonName: 'system:node:n1', organizations: ['system:nodes'], key });
  servingRequest = await createCSR({ commonName: 'system:node:n1', organizations: ['system:nodes'], ipAddresses: ['10.0.0.1'], key });
  mastersRequest = await createCSR({ commonName: 'evil', organizations: ['system:masters'], key });
  // Flip a byte inside the signature (the end of the DER) so it no longer verifies.
  const der = Buffer.from(kubeletRequest.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 3] = (der[der.length - 3]! ^ 0x55) & 0xff;
  badSignature = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
});

function csr(over: { request?: string; signerName?: string; usages?: string[]; expirationSeconds?: number; conditions?: NonNullable<CertificateSigningRequest['status']>['conditions']; certificate?: string; username?: string; groups?: string[] } = {}): CertificateSigningRequest {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: 'node-csr-x', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      request: b64(over.request ?? kubeletRequest),
      signerName: over.signerName ?? KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
      usages: over.usages ?? ['digital signature', 'client auth'],
      ...(over.expirationSeconds !== undefined ? { expirationSeconds: over.expirationSeconds } : {}),
      ...(over.username ? { username: over.username } : {}),
      ...(over.groups ? { groups: over.groups } : {}),
    },
    status: { ...(over.conditions ? { conditions: over.conditions } : {}), ...(over.certificate ? { certificate: over.certificate } : {}) },
  };
}

describe('CSR validation on create (upstream ValidateCertificateSigningRequestCreate)', () => {
  const cases: Array<{ name: string; make: () => CertificateSigningRequest; want: string[] }> = [
    { name: 'a kubelet client request is valid', make: () => csr(), want: [] },
    { name: 'a request that is not PEM is invalid with upstream\'s text', make: () => csr({ request: 'hello' }), want: ['spec.request: Invalid value: "aGVsbG8=": PEM block type must be CERTIFICATE REQUEST'] },
    {
      name: 'a PEM block of another type is invalid',
      make: () => csr({ request: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }),
      want: ['spec.request: Invalid value: ' + JSON.stringify(b64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')) + ': PEM block type must be CERTIFICATE REQUEST'],
    },
    { name: 'a request whose signature does not verify is invalid', make: () => csr({ request: badSignature }), want: ['spec.request'] },
    { name: 'usages are required', make: () => csr({ usages: [] }), want: ['spec.usages: Required value'] },
    { name: 'an unknown usage is not supported', make: () => csr({ usages: ['client auth', 'flying'] }), want: ['spec.usages[1]: Unsupported value: "flying"'] },
    { name: 'a duplicate usage is refused', make: () => csr({ usages: ['client auth', 'client auth'] }), want: ['spec.usages[1]: Duplicate value: "client auth"'] },
    { name: 'signerName is required', make: () => csr({ signerName: '' }), want: ['spec.signerName: Required value'] },
    { name: 'a signerName without a path is invalid', make: () => csr({ signerName: 'example.com' }), want: ["spec.signerName: Invalid value: \"example.com\": must be a fully qualified domain and path of the form 'example.com/signer-name'"] },
    { name: 'the legacy-unknown signer is refused in v1', make: () => csr({ signerName: 'kubernetes.io/legacy-unknown' }), want: ['spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version'] },
    { name: 'expirationSeconds under 10 minutes is refused', make: () => csr({ expirationSeconds: 599 }), want: ['spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)'] },
    { name: 'an Approved condition must be True', make: () => csr({ conditions: [{ type: 'Approved', status: 'False' }] }), want: ['status.conditions[0].status: Unsupported value: "False": supported values: "True"'] },
    {
      name: 'Approved and Denied are mutually exclusive',
      make: () => csr({ conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] }),
      want: ['status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive'],
    },
    { name: 'status.certificate must be CERTIFICATE PEM blocks', make: () => csr({ certificate: b64('junk') }), want: ['status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block'] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const got = (await validateCSRCreate(c.make())).map((e) => e.toString());
      if (c.want.length === 0) return assert.deepEqual(got, []);
      assert.equal(got.length, c.want.length, `got ${JSON.stringify(got)}`);
      c.want.forEach((w, i) => assert.ok(got[i]!.startsWith(w), `got ${got[i]}, want ${w}…`));
    });
  }

  it('signer names follow upstream ValidateSignerName', () => {
    assert.deepEqual(validateSignerName('p', 'example.com/my-signer').map(String), []);
    assert.match(validateSignerName('p', 'localhost/x').map(String)[0]!, /at least two segments/);
    assert.match(validateSignerName('p', 'a.b/c/d').map(String)[0]!, /fully qualified domain and path/);
    assert.match(validateSignerName('p', 'Example.com/x').map(String)[0]!, /validating label "Example"/);
  });
});

describe('CSR strategies (create, update, /status, /approval)', () => {
  it('create fills the requester from the request user and drops what the client sent', () => {
    const obj = csr({ username: 'admin', groups: ['system:masters'], conditions: [{ type: 'Approved', status: 'True' }] });
    prepareCSRForCreate(obj, { name: 'system:bootstrap:k8ts-node', uid: 'u1', groups: ['system:bootstrappers', 'system:authenticated'], extra: { a: ['b'] } });
    assert.equal(obj.spec.username, 'system:bootstrap:k8ts-node');
    assert.equal(obj.spec.uid, 'u1');
    assert.deepEqual(obj.spec.groups, ['system:bootstrappers', 'system:authenticated']);
    assert.deepEqual(obj.spec.extra, { a: ['b'] });
    assert.deepEqual(obj.status, {});
  });

  it('a main-resource update keeps spec and status', () => {
    const old = csr({ conditions: [{ type: 'Approved', status: 'True' }] });
    const next = csr({ usages: ['client auth'], conditions: [] });
    prepareCSRForUpdate('main', next, old);
    assert.deepEqual(next.spec, old.spec);
    assert.deepEqual(next.status, old.status);
  });

  it('/approval changes only the conditions (timestamps filled) and keeps the certificate', () => {
    const old = csr({ certificate: 'Y2VydA==' });
    const next = csr({ usages: ['client auth'], conditions: [{ type: 'Approved', status: 'True', reason: 'R' }] });
    delete next.status!.certificate;
    prepareCSRForUpdate('approval', next, old, new Date('2026-02-02T00:00:00Z'));
    assert.deepEqual(next.spec, old.spec);
    assert.equal(next.status?.certificate, 'Y2VydA==');
    assert.deepEqual(next.status?.conditions, [{ type: 'Approved', status: 'True', reason: 'R', lastUpdateTime: '2026-02-02T00:00:00Z', lastTransitionTime: '2026-02-02T00:00:00Z' }]);
  });

  it('/status keeps the stored Approved condition whatever the writer sends', () => {
    const approved = { type: 'Approved', status: 'True', reason: 'AutoApproved', lastUpdateTime: '2026-01-01T00:00:00Z', lastTransitionTime: '2026-01-01T00:00:00Z' };
    const old = csr({ conditions: [approved] });
    const next = csr({ conditions: [{ type: 'Failed', status: 'True', reason: 'SignerValidationFailure' }] });
    prepareCSRForUpdate('status', next, old, new Date('2026-02-02T00:00:00Z'));
    assert.deepEqual(next.status?.conditions?.map((c) => c.type), ['Approved', 'Failed']);
  });

  const updates: Array<{ name: string; path: 'main' | 'status' | 'approval'; old: () => CertificateSigningRequest; next: () => CertificateSigningRequest; want: string[] }> = [
    { name: 'approval may add Approved', path: 'approval', old: () => csr(), next: () => csr({ conditions: [{ type: 'Approved', status: 'True' }] }), want: [] },
    { name: 'status may not add Approved', path: 'status', old: () => csr(), next: () => csr({ conditions: [{ type: 'Approved', status: 'True' }] }), want: ['status.conditions: Forbidden: updates may not add a condition of type "Approved"'] },
    { name: 'approval may not remove Approved', path: 'approval', old: () => csr({ conditions: [{ type: 'Approved', status: 'True' }] }), next: () => csr(), want: ['status.conditions: Forbidden: updates may not remove a condition of type "Approved"'] },
    { name: 'approval may not set a certificate', path: 'approval', old: () => csr(), next: () => csr({ certificate: 'eA==' }), want: ['status.certificate: Invalid value', 'status.certificate: Forbidden: updates may not set certificate content'] },
  ];
  for (const c of updates) {
    it(c.name, async () => {
      const got = (await validateCSRUpdate(c.next(), c.old(), c.path)).map(String);
      assert.equal(got.length, c.want.length, `got ${JSON.stringify(got)}`);
      c.want.forEach((w, i) => assert.ok(got[i]!.startsWith(w), `got ${got[i]}, want ${w}…`));
    });
  }
});

describe('kubelet client CSR recognition (upstream ValidateKubeletClientCSR)', () => {
  const parsed = (over: Partial<ParsedCSR>): ParsedCSR => ({ commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [], signatureValid: true, pem: '', ...over });
  const cases: Array<{ name: string; req: Partial<ParsedCSR>; usages: string[]; want: string | undefined }> = [
    { name: 'ECDSA usages are accepted', req: {}, usages: ['digital signature', 'client auth'], want: undefined },
    { name: 'RSA usages (with key encipherment) are accepted', req: {}, usages: ['key encipherment', 'digital signature', 'client auth'], want: undefined },
    { name: 'O must be exactly system:nodes', req: { organizations: ['system:nodes', 'x'] }, usages: ['digital signature', 'client auth'], want: 'subject organization is not system:nodes' },
    { name: 'DNS SANs are not allowed', req: { dnsNames: ['n1'] }, usages: ['digital signature', 'client auth'], want: 'DNS subjectAltNames are not allowed' },
    { name: 'IP SANs are not allowed', req: { ipAddresses: ['10.0.0.1'] }, usages: ['digital signature', 'client auth'], want: 'IP subjectAltNames are not allowed' },
    { name: 'CN must begin with system:node:', req: { commonName: 'n1' }, usages: ['digital signature', 'client auth'], want: 'subject common name does not begin with system:node:' },
    { name: 'server auth is not a client usage', req: {}, usages: ['digital signature', 'server auth'], want: 'usages did not match [client auth digital signature key encipherment]' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(kubeletClientCSRProblem(parsed(c.req), c.usages), c.want));

  it('parses the subject and SANs of a real request', async () => {
    const p = await parseCSR(servingRequest);
    assert.equal(p.commonName, 'system:node:n1');
    assert.deepEqual(p.organizations, ['system:nodes']);
    assert.deepEqual(p.ipAddresses, ['10.0.0.1']);
    assert.equal(p.signatureValid, true);
    assert.equal((await parseCSR(badSignature)).signatureValid, false);
  });
});

describe('csrapproving decisions', () => {
  const bootstrapper = { username: 'system:bootstrap:k8ts-node', groups: ['system:bootstrappers', 'system:authenticated'] };
  const cases: Array<{ name: string; make: () => CertificateSigningRequest; want: string | false }> = [
    { name: 'a bootstrapper gets a kubelet client certificate approved (nodeclient)', make: () => csr(bootstrapper), want: 'Auto approving kubelet client certificate after SubjectAccessReview.' },
    { name: 'a node renewing its own certificate is approved (selfnodeclient)', make: () => csr({ username: 'system:node:n1', groups: ['system:nodes'] }), want: 'Auto approving self kubelet client certificate after SubjectAccessReview.' },
    { name: 'a node asking for another node\'s certificate is not approved', make: () => csr({ username: 'system:node:n2', groups: ['system:nodes'] }), want: false },
    { name: 'an ordinary user is not approved', make: () => csr({ username: 'alice', groups: ['system:authenticated'] }), want: false },
    { name: 'another signer is not the approver\'s business', make: () => csr({ ...bootstrapper, signerName: KUBE_APISERVER_CLIENT_SIGNER }), want: false },
    { name: 'a request with serving SANs is not a client request', make: () => csr({ ...bootstrapper, request: servingRequest }), want: false },
    { name: 'an already approved request is left alone', make: () => csr({ ...bootstrapper, conditions: [{ type: 'Approved', status: 'True' }] }), want: false },
    { name: 'a denied request is left alone', make: () => csr({ ...bootstrapper, conditions: [{ type: 'Denied', status: 'True' }] }), want: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const d = await decideApproval(c.make(), defaultApprovalAuthorizer, signal);
      if (c.want === false) assert.equal(d.approve, false);
      else assert.deepEqual(d, { approve: true, message: c.want });
    });
  }
});

describe('csrsigning decisions', () => {
  const approved = [{ type: 'Approved', status: 'True' }];
  const year = 365 * 86400;
  it('clamps durations as upstream: default the max, never more, never under 10 minutes', () => {
    assert.equal(certificateDurationSeconds(undefined, year), year);
    assert.equal(certificateDurationSeconds(2 * year, year), year);
    assert.equal(certificateDurationSeconds(3600, year), 3600);
    assert.equal(certificateDurationSeconds(60, year), 600);
  });
  const cases: Array<{ name: string; make: () => CertificateSigningRequest; want: string }> = [
    { name: 'an approved kubelet client request is signed', make: () => csr({ conditions: approved }), want: 'sign' },
    { name: 'a pending request is ignored', make: () => csr(), want: 'ignore' },
    { name: 'a failed request is ignored', make: () => csr({ conditions: [...approved, { type: 'Failed', status: 'True' }] }), want: 'ignore' },
    { name: 'an issued request is ignored', make: () => csr({ conditions: approved, certificate: 'eA==' }), want: 'ignore' },
    { name: 'an unknown signer is ignored', make: () => csr({ conditions: approved, signerName: 'example.com/x' }), want: 'ignore' },
    { name: 'a kubelet-client request the signer refuses fails', make: () => csr({ conditions: approved, usages: ['server auth'] }), want: 'fail' },
    { name: 'a kubelet-serving request with SANs is signed', make: () => csr({ conditions: approved, signerName: KUBELET_SERVING_SIGNER, request: servingRequest, usages: ['digital signature', 'server auth'] }), want: 'sign' },
    { name: 'a kube-apiserver-client request with server auth fails', make: () => csr({ conditions: approved, signerName: KUBE_APISERVER_CLIENT_SIGNER, request: mastersRequest, usages: ['server auth'] }), want: 'fail' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const d = await decideSigning(c.make(), year);
      assert.equal(d.action, c.want, JSON.stringify(d));
      if (d.action === 'fail' && c.name.includes('kubelet-client')) assert.equal(d.message, 'usages did not match [client auth digital signature key encipherment]');
    });
  }
});

describe('csrcleaner criteria', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  const ago = (ms: number) => new Date(now - ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const H = 3600_000;
  let validCert = '';
  let expiredCert = '';
  before(async () => {
    const ca = await createCA({ now: new Date(now - 10 * 86400_000) });
    validCert = b64((await issueClientCertificate(ca, { user: 'system:node:n1', now: new Date(now) })).certPem);
    expiredCert = b64((await issueClientCertificate(ca, { user: 'system:node:n1', validityDays: 1, now: new Date(now - 5 * 86400_000) })).certPem);
  });
  const withCreated = (o: CertificateSigningRequest, t: string) => ({ ...o, metadata: { ...o.metadata, creationTimestamp: t } });
  const cases: Array<{ name: string; make: () => CertificateSigningRequest; want: boolean }> = [
    { name: 'issued and approved more than 1 h ago: deleted', make: () => csr({ conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: ago(2 * H) }], certificate: validCert }), want: true },
    { name: 'issued and approved 10 minutes ago: kept', make: () => csr({ conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: ago(H / 6) }], certificate: validCert }), want: false },
    { name: 'approved but not issued for hours: kept', make: () => csr({ conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: ago(5 * H) }] }), want: false },
    { name: 'denied more than 1 h ago: deleted', make: () => csr({ conditions: [{ type: 'Denied', status: 'True', lastUpdateTime: ago(2 * H) }] }), want: true },
    { name: 'failed more than 1 h ago: deleted', make: () => csr({ conditions: [{ type: 'Failed', status: 'True', lastUpdateTime: ago(2 * H) }] }), want: true },
    { name: 'pending for 25 h: deleted', make: () => withCreated(csr(), ago(25 * H)), want: true },
    { name: 'pending for 23 h: kept', make: () => withCreated(csr(), ago(23 * H)), want: false },
    { name: 'approved recently with an expired certificate: deleted', make: () => csr({ conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: ago(H / 6) }], certificate: expiredCert }), want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(cleanupReason(c.make(), now) !== undefined, c.want));
});
