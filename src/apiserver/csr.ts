// certificates.k8s.io CertificateSigningRequests in the API server: upstream's CSR strategies
// (who asked is filled in from the request's user, spec is immutable, status only via /status,
// Approved/Denied only via /approval), upstream's validation, and the CertificateSubjectRestriction
// admission plugin. The pure parts (request parsing, kubelet CSR checks) are shared with the
// csrapproving/csrsigning controllers.
import type { CertificateSigningRequest, CertificateSigningRequestCondition } from 'kubernetes-types/certificates/v1.js';
import { decodePEM } from '../pki/pem.js';
import { x509 } from '../pki/peculiar.js';
import type { AdmissionPlugin } from './admission.js';
import type { ResourceRequest } from './handlers.js';
import { FieldError, duplicate, forbidden, forbiddenField, invalid, invalidValue, notSupported, required, tooLong } from './status.js';
import type { K8sObject } from './watchCache.js';

export const KUBE_APISERVER_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';
export const KUBE_APISERVER_CLIENT_KUBELET_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
export const LEGACY_UNKNOWN_SIGNER = 'kubernetes.io/legacy-unknown';

export const CSR_APPROVED = 'Approved';
export const CSR_DENIED = 'Denied';
export const CSR_FAILED = 'Failed';

/** certificates.k8s.io/v1 KeyUsage values, sorted as Go's sets.List() prints them. */
export const ALL_VALID_USAGES: readonly string[] = [
  'any',
  'cert sign',
  'client auth',
  'code signing',
  'content commitment',
  'crl sign',
  'data encipherment',
  'decipher only',
  'digital signature',
  'email protection',
  'encipher only',
  'ipsec end system',
  'ipsec tunnel',
  'ipsec user',
  'key agreement',
  'key encipherment',
  'microsoft sgc',
  'netscape sgc',
  'ocsp signing',
  's/mime',
  'server auth',
  'signing',
  'timestamping',
];

const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** What the approver and signer look at in a PKCS#10 request. */
export interface ParsedCSR {
  commonName: string;
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  emailAddresses: string[];
  uris: string[];
  /** The request's signature verifies with its own public key. */
  signatureValid: boolean;
  pem: string;
}

export class CSRParseError extends Error {
  override readonly name = 'CSRParseError';
  readonly code = 'InvalidCSR' as const;
}

/** spec.request / status.certificate arrive as base64 of PEM bytes in JSON. */
export function decodeBytesField(value: unknown): Buffer {
  if (typeof value !== 'string') return Buffer.alloc(0);
  return Buffer.from(value, 'base64');
}

/**
 * Parses spec.request as upstream's certificates.ParseCSR: the first PEM block must be a
 * `CERTIFICATE REQUEST` holding a PKCS#10 request. Throws CSRParseError with upstream-like texts.
 */
export async function parseCSR(pemBytes: Uint8Array | string): Promise<ParsedCSR> {
  const text = typeof pemBytes === 'string' ? pemBytes : Buffer.from(pemBytes).toString('latin1');
  let block: { type: string; der: Buffer } | undefined;
  try {
    block = decodePEM(text)[0];
  } catch {
    block = undefined;
  }
  if (!block || block.type !== 'CERTIFICATE REQUEST') throw new CSRParseError('PEM block type must be CERTIFICATE REQUEST');
  let req: x509.Pkcs10CertificateRequest;
  try {
    req = new x509.Pkcs10CertificateRequest(block.der);
  } catch (err) {
    throw new CSRParseError(`x509: malformed certificate request: ${(err as Error).message}`);
  }
  const san = req.getExtension(OID_SUBJECT_ALT_NAME);
  const names = san ? new x509.SubjectAlternativeNameExtension(san.rawData).names.toJSON() : [];
  const signatureValid = await req.verify().catch(() => false);
  return {
    commonName: req.subjectName.getField('CN')[0] ?? '',
    organizations: req.subjectName.getField('O'),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
    emailAddresses: names.filter((n) => n.type === 'email').map((n) => n.value),
    uris: names.filter((n) => n.type === 'url').map((n) => n.value),
    signatureValid,
    pem: req.toString('pem'),
  };
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
};

const KUBELET_CLIENT_USAGES = ['client auth', 'digital signature', 'key encipherment'];
const KUBELET_CLIENT_USAGES_NO_RSA = ['client auth', 'digital signature'];
const KUBELET_SERVING_USAGES = ['digital signature', 'key encipherment', 'server auth'];
const KUBELET_SERVING_USAGES_NO_RSA = ['digital signature', 'server auth'];

/** Upstream's ValidateKubeletClientCSR: undefined when the request is a valid kubelet client CSR, else why not. */
export function kubeletClientCSRProblem(req: ParsedCSR, usages: readonly string[]): string | undefined {
  if (req.organizations.length !== 1 || req.organizations[0] !== 'system:nodes') return 'subject organization is not system:nodes';
  if (req.dnsNames.length > 0) return 'DNS subjectAltNames are not allowed';
  if (req.emailAddresses.length > 0) return 'Email subjectAltNames are not allowed';
  if (req.ipAddresses.length > 0) return 'IP subjectAltNames are not allowed';
  if (req.uris.length > 0) return 'URI subjectAltNames are not allowed';
  if (!req.commonName.startsWith('system:node:')) return 'subject common name does not begin with system:node:';
  if (!sameSet(usages, KUBELET_CLIENT_USAGES) && !sameSet(usages, KUBELET_CLIENT_USAGES_NO_RSA)) return `usages did not match [${KUBELET_CLIENT_USAGES.join(' ')}]`;
  return undefined;
}

/** Upstream's ValidateKubeletServingCSR. */
export function kubeletServingCSRProblem(req: ParsedCSR, usages: readonly string[]): string | undefined {
  if (req.organizations.length !== 1 || req.organizations[0] !== 'system:nodes') return 'subject organization is not system:nodes';
  if (req.dnsNames.length === 0 && req.ipAddresses.length === 0) return 'DNS or IP subjectAltName is required';
  if (req.emailAddresses.length > 0) return 'Email subjectAltNames are not allowed';
  if (req.uris.length > 0) return 'URI subjectAltNames are not allowed';
  if (!sameSet(usages, KUBELET_SERVING_USAGES) && !sameSet(usages, KUBELET_SERVING_USAGES_NO_RSA)) return `usages did not match [${KUBELET_SERVING_USAGES.join(' ')}]`;
  if (!req.commonName.startsWith('system:node:')) return 'subject common name does not begin with system:node:';
  return undefined;
}

/** Upstream signer's validAPIServerClientUsages for kubernetes.io/kube-apiserver-client. */
export function apiServerClientCSRProblem(usages: readonly string[]): string | undefined {
  let clientAuth = false;
  for (const u of usages) {
    if (u === 'client auth') clientAuth = true;
    else if (u !== 'digital signature' && u !== 'key encipherment') return `invalid usage for client certificate: ${u}`;
  }
  return clientAuth ? undefined : 'missing required usage for client certificate: client auth';
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_FMT = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_FMT =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** Upstream's ValidateSignerName: `<fully qualified domain>/<path>`. */
export function validateSignerName(path: string, signerName: unknown): FieldError[] {
  if (typeof signerName !== 'string' || signerName === '') return [required(path)];
  const segments = signerName.split('/');
  if (segments.length !== 2) return [invalidValue(path, signerName, "must be a fully qualified domain and path of the form 'example.com/signer-name'")];
  const [domain = '', name = ''] = segments;
  const errs: FieldError[] = [];
  if (domain.length > 253) errs.push(tooLong(path, 253));
  const labels = domain.split('.');
  for (const l of labels) {
    if (l.length > 63) {
      errs.push(invalidValue(path, domain, `validating label "${l}": must be no more than 63 characters`));
      break;
    }
    if (!DNS1123_LABEL.test(l)) {
      errs.push(invalidValue(path, domain, `validating label "${l}": ${LABEL_FMT}`));
      break;
    }
  }
  if (labels.length < 2) errs.push(invalidValue(path, domain, 'should be a domain with at least two segments separated by dots'));
  if (name.length > 253) errs.push(tooLong(path, 253));
  if (!DNS1123_SUBDOMAIN.test(name)) errs.push(invalidValue(path, name, `validating path segment: ${SUBDOMAIN_FMT}`));
  return errs;
}

/** Upstream's validateCertificate for status.certificate: only CERTIFICATE blocks that parse, at least one. */
export function certificateProblem(pemBytes: Buffer): string | undefined {
  if (pemBytes.length === 0) return undefined;
  let blocks;
  try {
    blocks = decodePEM(pemBytes.toString('latin1'));
  } catch {
    return 'no PEM block headers are permitted';
  }
  if (blocks.length === 0) return 'must contain at least one CERTIFICATE PEM block';
  for (const b of blocks) {
    if (b.type !== 'CERTIFICATE') return `only CERTIFICATE PEM blocks are allowed, found "${b.type}"`;
    try {
      new x509.X509Certificate(b.der);
    } catch (err) {
      return `x509: malformed certificate: ${(err as Error).message}`;
    }
  }
  return undefined;
}

type CSR = CertificateSigningRequest;
type Condition = CertificateSigningRequestCondition;

const TRUE_ONLY = new Set([CSR_APPROVED, CSR_DENIED, CSR_FAILED]);

/** Which write path an update takes: the main resource, /status or /approval. */
export type CSRWritePath = 'main' | 'status' | 'approval';

interface ValidationOptions {
  allowSettingApprovalConditions: boolean;
  allowSettingCertificate: boolean;
  /** Tolerated only when the stored object already has the problem, as upstream. */
  allowBothApprovedAndDenied: boolean;
  allowLegacySignerName: boolean;
  allowDuplicateConditionTypes: boolean;
  allowEmptyConditionType: boolean;
  allowArbitraryCertificate: boolean;
  allowUnknownUsages: boolean;
  allowDuplicateUsages: boolean;
}

function optionsFor(next: CSR, old: CSR | undefined, path: CSRWritePath): ValidationOptions {
  const conds = old?.status?.conditions ?? [];
  const types = conds.map((c) => c.type);
  const usages = old?.spec?.usages ?? [];
  return {
    allowSettingApprovalConditions: path === 'approval',
    allowSettingCertificate: path === 'status',
    allowBothApprovedAndDenied: !!old && types.includes(CSR_APPROVED) && types.includes(CSR_DENIED),
    allowLegacySignerName: old?.spec?.signerName === LEGACY_UNKNOWN_SIGNER,
    allowDuplicateConditionTypes: !!old && new Set(types).size !== types.length,
    allowEmptyConditionType: !!old && types.some((t) => !t),
    allowArbitraryCertificate:
      (!!old && (next.status?.certificate ?? '') === (old.status?.certificate ?? '')) || (!!old && certificateProblem(decodeBytesField(old.status?.certificate)) !== undefined),
    allowUnknownUsages: !!old && usages.some((u) => !ALL_VALID_USAGES.includes(u)),
    allowDuplicateUsages: !!old && new Set(usages).size !== usages.length,
  };
}

async function validateObject(csr: CSR, opts: ValidationOptions): Promise<FieldError[]> {
  const errs: FieldError[] = [];
  const spec = csr.spec ?? ({} as CSR['spec']);
  const request = decodeBytesField(spec.request);
  try {
    const parsed = await parseCSR(request);
    if (!parsed.signatureValid) throw new CSRParseError('x509: the certificate request signature does not verify');
  } catch (err) {
    errs.push(invalidValue('spec.request', spec.request ?? null, err instanceof CSRParseError ? err.message : String(err)));
  }
  const usages = spec.usages ?? [];
  if (usages.length === 0) errs.push(required('spec.usages'));
  if (!opts.allowUnknownUsages) {
    usages.forEach((u, i) => {
      if (!ALL_VALID_USAGES.includes(u)) errs.push(notSupported(`spec.usages[${i}]`, u, [...ALL_VALID_USAGES]));
    });
  }
  if (!opts.allowDuplicateUsages) {
    const seen = new Set<string>();
    usages.forEach((u, i) => {
      if (seen.has(u)) errs.push(duplicate(`spec.usages[${i}]`, u));
      seen.add(u);
    });
  }
  if (!opts.allowLegacySignerName && spec.signerName === LEGACY_UNKNOWN_SIGNER) {
    errs.push(invalidValue('spec.signerName', spec.signerName, 'the legacy signerName is not allowed via this API version'));
  } else {
    errs.push(...validateSignerName('spec.signerName', spec.signerName));
  }
  if (spec.expirationSeconds !== undefined && spec.expirationSeconds !== null && spec.expirationSeconds < 600) {
    errs.push(invalidValue('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 600 seconds (10 minutes)'));
  }
  errs.push(...validateConditions(csr.status?.conditions ?? [], opts));
  if (!opts.allowArbitraryCertificate) {
    const problem = certificateProblem(decodeBytesField(csr.status?.certificate));
    if (problem) errs.push(invalidValue('status.certificate', '<certificate data>', problem));
  }
  return errs;
}

function validateConditions(conditions: readonly Condition[], opts: ValidationOptions): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  let approved = false;
  let denied = false;
  conditions.forEach((c, i) => {
    const p = `status.conditions[${i}]`;
    if (!opts.allowEmptyConditionType && !c.type) errs.push(required(`${p}.type`));
    const allowed = TRUE_ONLY.has(c.type) ? ['True'] : ['False', 'True', 'Unknown'];
    if (!c.status) errs.push(required(`${p}.status`));
    else if (!allowed.includes(c.status)) errs.push(notSupported(`${p}.status`, c.status, allowed));
    if (!opts.allowBothApprovedAndDenied) {
      if (c.type === CSR_APPROVED) {
        approved = true;
        if (denied) errs.push(invalidValue(`${p}.type`, c.type, 'Approved and Denied conditions are mutually exclusive'));
      } else if (c.type === CSR_DENIED) {
        denied = true;
        if (approved) errs.push(invalidValue(`${p}.type`, c.type, 'Approved and Denied conditions are mutually exclusive'));
      }
    }
    if (!opts.allowDuplicateConditionTypes) {
      if (seen.has(c.type)) errs.push(duplicate(`${p}.type`, c.type));
      seen.add(c.type);
    }
  });
  return errs;
}

const conditionsOf = (csr: CSR, type: string): Condition[] => (csr.status?.conditions ?? []).filter((c) => c.type === type);

/** Upstream's ValidateCertificateSigningRequestCreate (without ObjectMeta, which the registry checks). */
export function validateCSRCreate(csr: CSR): Promise<FieldError[]> {
  return validateObject(csr, optionsFor(csr, undefined, 'main'));
}

/** Upstream's ValidateCertificateSigningRequest{,Status,Approval}Update. */
export async function validateCSRUpdate(next: CSR, old: CSR, path: CSRWritePath): Promise<FieldError[]> {
  const opts = optionsFor(next, old, path);
  const errs = await validateObject(next, opts);
  for (const t of [CSR_APPROVED, CSR_DENIED, CSR_FAILED]) {
    if (conditionsOf(next, t).length < conditionsOf(old, t).length) errs.push(forbiddenField('status.conditions', `updates may not remove a condition of type "${t}"`));
  }
  if (!opts.allowSettingApprovalConditions) {
    for (const t of [CSR_APPROVED, CSR_DENIED]) {
      const o = conditionsOf(old, t);
      const n = conditionsOf(next, t);
      if (n.length > o.length) errs.push(forbiddenField('status.conditions', `updates may not add a condition of type "${t}"`));
      else if (n.length === o.length && JSON.stringify(n) !== JSON.stringify(o)) errs.push(forbiddenField('status.conditions', `updates may not modify a condition of type "${t}"`));
    }
  }
  const nextCert = next.status?.certificate ?? '';
  const oldCert = old.status?.certificate ?? '';
  if (nextCert !== oldCert) {
    if (!opts.allowSettingCertificate) errs.push(forbiddenField('status.certificate', 'updates may not set certificate content'));
    else if (oldCert) errs.push(forbiddenField('status.certificate', 'updates may not modify existing certificate content'));
  }
  return errs;
}

const nowTime = (now: Date): string => now.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Upstream's CSR PrepareForCreate: the requester comes from the request, never from the body; no status. */
export function prepareCSRForCreate(csr: CSR, user: ResourceRequest['user']): void {
  const spec = (csr.spec ??= {} as CSR['spec']);
  delete spec.username;
  delete spec.uid;
  delete spec.groups;
  delete spec.extra;
  spec.username = user.name;
  if (user.uid) spec.uid = user.uid;
  spec.groups = [...user.groups];
  if (user.extra && Object.keys(user.extra).length > 0) spec.extra = Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]]));
  csr.status = {};
}

/** Upstream's populateConditionTimestamps: lastUpdateTime now when unset; lastTransitionTime kept from an unchanged old condition. */
function populateConditionTimestamps(next: CSR, old: CSR, now: Date): void {
  const t = nowTime(now);
  for (const c of next.status?.conditions ?? []) {
    if (!c.lastUpdateTime) c.lastUpdateTime = t;
    if (!c.lastTransitionTime) {
      const prev = (old.status?.conditions ?? []).find((o) => o.type === c.type);
      c.lastTransitionTime = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : c.lastUpdateTime;
    }
  }
}

/**
 * Upstream's PrepareForUpdate of the three CSR strategies: the main resource changes metadata only;
 * /status keeps spec and the Approved/Denied conditions (it sets the certificate and other
 * conditions); /approval changes the conditions only.
 */
export function prepareCSRForUpdate(path: CSRWritePath, next: CSR, old: CSR, now = new Date()): void {
  next.spec = structuredClone(old.spec);
  if (path === 'main') {
    if (old.status === undefined) delete next.status;
    else next.status = structuredClone(old.status);
    return;
  }
  if (path === 'status') {
    next.status ??= {};
    // The Approved/Denied conditions of the stored object stay as they are; others come from the writer.
    const kept = (old.status?.conditions ?? []).filter((c) => c.type === CSR_APPROVED || c.type === CSR_DENIED);
    const others = (next.status.conditions ?? []).filter((c) => c.type !== CSR_APPROVED && c.type !== CSR_DENIED);
    const conditions = [...kept, ...others];
    if (conditions.length > 0) next.status.conditions = conditions;
    else delete next.status.conditions;
    populateConditionTimestamps(next, old, now);
    return;
  }
  const conditions = next.status?.conditions;
  next.status = structuredClone(old.status ?? {});
  if (conditions && conditions.length > 0) next.status.conditions = conditions;
  else delete next.status.conditions;
  populateConditionTimestamps(next, old, now);
}

const isCSR = (req: ResourceRequest): boolean => req.type.group === 'certificates.k8s.io' && req.type.kind === 'CertificateSigningRequest';

const writePathOf = (req: ResourceRequest): CSRWritePath => (req.subresource === 'status' ? 'status' : req.subresource === 'approval' ? 'approval' : 'main');

/**
 * The CSR strategy as an admission step (the only step that knows the requesting user): fills in
 * the requester on create, confines updates to their subresource, and validates as upstream.
 */
export const certificateSigningRequestStrategy: AdmissionPlugin = {
  name: 'CertificateSigningRequestStrategy',
  mutate(req, obj, old) {
    if (!isCSR(req)) return;
    if (old === undefined) prepareCSRForCreate(obj as CSR, req.user);
    else prepareCSRForUpdate(writePathOf(req), obj as CSR, old as CSR);
  },
  async validate(req, obj, old) {
    if (!isCSR(req)) return;
    const errs = old === undefined ? await validateCSRCreate(obj as CSR) : await validateCSRUpdate(obj as CSR, old as CSR, writePathOf(req));
    if (errs.length > 0) throw invalid('CertificateSigningRequest', 'certificates.k8s.io', String(obj.metadata?.name ?? ''), errs);
  },
};

/**
 * Upstream's CertificateSubjectRestriction admission plugin: a CSR for the kube-apiserver-client
 * signer may not ask for the `system:masters` group (that would be a cluster-admin certificate).
 */
export const certificateSubjectRestriction: AdmissionPlugin = {
  name: 'CertificateSubjectRestriction',
  async validate(req: ResourceRequest, obj: K8sObject, old: K8sObject | undefined) {
    if (!isCSR(req) || old !== undefined) return;
    const csr = obj as CSR;
    if (csr.spec?.signerName !== KUBE_APISERVER_CLIENT_SIGNER) return;
    let parsed: ParsedCSR;
    try {
      parsed = await parseCSR(decodeBytesField(csr.spec.request));
    } catch (err) {
      throw forbidden(`certificatesigningrequests.certificates.k8s.io "${csr.metadata?.name ?? ''}" is forbidden: failed to parse CSR: ${(err as Error).message}`);
    }
    if (parsed.organizations.includes('system:masters')) {
      throw forbidden(`certificatesigningrequests.certificates.k8s.io "${csr.metadata?.name ?? ''}" is forbidden: use of ${KUBE_APISERVER_CLIENT_SIGNER} signer with system:masters group is not allowed`);
    }
  },
};
