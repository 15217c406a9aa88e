// ServiceAccount tokens as upstream issues and checks them (pkg/serviceaccount): RS256/ES256 JWTs whose
// header kid is base64url(sha256(PKIX public key)), with the `kubernetes.io` private claim of bound
// (TokenRequest) tokens, and the older secret-based tokens of issuer "kubernetes/serviceaccount".
import { createHash, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify } from 'jose';
import { decodePublicKeysPEM } from '../../pki/pem.js';
import { invalid, invalidValue, type FieldError } from '../status.js';
import { ALL_AUTHENTICATED, CREDENTIAL_ID_KEY, type AuthResult, type TokenAuthenticator, type UserInfo } from './types.js';

export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const LEGACY_ISSUER = 'kubernetes/serviceaccount';
export const SERVICE_ACCOUNT_AUTHENTICATOR = 'serviceaccount';
/** TokenRequest spec.expirationSeconds default and bounds (validation: at least 10 minutes, at most 2^32 s). */
export const DEFAULT_EXPIRATION_SECONDS = 3600;
export const MIN_EXPIRATION_SECONDS = 600;
export const MAX_EXPIRATION_SECONDS = 2 ** 32;
/** The kubelet asks for 3607 s; with --service-account-extend-token-expiration such pod tokens live a year and carry warnafter. */
export const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 3607;
export const EXPIRATION_EXTENSION_SECONDS = 365 * 24 * 60 * 60;
/** go-jose's DefaultLeeway for exp/nbf/iat and for deletion timestamps. */
export const LEEWAY_SECONDS = 60;

export const POD_NAME_KEY = 'authentication.kubernetes.io/pod-name';
export const POD_UID_KEY = 'authentication.kubernetes.io/pod-uid';
export const NODE_NAME_KEY = 'authentication.kubernetes.io/node-name';
export const NODE_UID_KEY = 'authentication.kubernetes.io/node-uid';

export interface ObjectRef {
  name: string;
  uid: string;
}

/** What a TokenRequest binds its token to (spec.boundObjectRef, resolved by the caller to the live object). */
export type BoundObject =
  | { kind: 'Pod'; name: string; uid: string; /** The node the pod is bound to, embedded as upstream does. */ node?: ObjectRef }
  | { kind: 'Secret'; name: string; uid: string }
  | { kind: 'Node'; name: string; uid: string };

/** The claims of a verified bound token. Times are NumericDates (seconds since the epoch). */
export interface BoundTokenClaims {
  kind: 'bound';
  issuer: string;
  subject: string;
  audiences: string[];
  issuedAt: number | undefined;
  notBefore: number | undefined;
  expiresAt: number | undefined;
  jti: string | undefined;
  namespace: string;
  serviceAccount: ObjectRef;
  pod: ObjectRef | undefined;
  secret: ObjectRef | undefined;
  node: ObjectRef | undefined;
  warnAfter: number | undefined;
}

/** The claims of a verified secret-based (legacy) token; `token` is the raw JWT, to compare with the Secret's copy. */
export interface LegacyTokenClaims {
  kind: 'legacy';
  issuer: string;
  subject: string;
  namespace: string;
  serviceAccount: ObjectRef;
  secretName: string;
  token: string;
}

export type ServiceAccountTokenClaims = BoundTokenClaims | LegacyTokenClaims;

/** `true` when the referenced objects still exist with the same UIDs; `false` or a reason when not. */
export type Liveness = boolean | { reason: string };
export type IsLive = (claims: ServiceAccountTokenClaims) => Promise<Liveness>;

/** upstream keyIDFromPublicKey: base64url (unpadded) SHA-256 of the PKIX DER public key. */
export function keyIDFromPublicKey(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('base64url');
}

function jwsAlgorithm(key: KeyObject): 'RS256' | 'ES256' | 'ES384' | 'ES512' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && curve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'ec' && curve === 'secp384r1') return 'ES384';
  if (key.asymmetricKeyType === 'ec' && curve === 'secp521r1') return 'ES512';
  throw new Error(`service account key: unsupported key type ${key.asymmetricKeyType ?? '?'} ${curve ?? ''}`.trim());
}

/** JSON with every object's keys sorted, as Go's map-based claim merging produces. */
function sortedJSON(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === 'object') {
      return Object.fromEntries(
        Object.entries(x as Record<string, unknown>)
          .filter(([, val]) => val !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, val]) => [k, sort(val)]),
      );
    }
    return x;
  };
  return JSON.stringify(sort(v));
}

function ref(r: ObjectRef): Record<string, string> {
  // upstream's ref has omitempty on both fields
  const out: Record<string, string> = {};
  if (r.name) out.name = r.name;
  if (r.uid) out.uid = r.uid;
  return out;
}

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export interface TokenRequestInput {
  namespace: string;
  /** ServiceAccount name and UID. */
  name: string;
  uid: string;
  /** spec.audiences; default the API audiences. */
  audiences?: readonly string[];
  /** spec.expirationSeconds; default 3600. */
  expirationSeconds?: number;
  boundObject?: BoundObject;
}

export interface IssuedToken {
  token: string;
  /** status.expirationTimestamp: the requested lifetime, even when the token itself was extended. */
  expirationTimestamp: Date;
  claims: BoundTokenClaims;
}

export interface ServiceAccountTokenIssuerOptions {
  /** --service-account-issuer; default https://kubernetes.default.svc.cluster.local. */
  issuer?: string;
  /** --api-audiences; default [issuer]. */
  apiAudiences?: readonly string[];
  /** --service-account-max-token-expiration in seconds; 0/undefined = no cap. */
  maxExpirationSeconds?: number;
  /** --service-account-extend-token-expiration; default true. */
  extendExpiration?: boolean;
  now?: () => Date;
  newJTI?: () => string;
}

/** Signs ServiceAccount tokens with the service-account private key (sa.key). */
export class ServiceAccountTokenIssuer {
  readonly issuer: string;
  readonly apiAudiences: readonly string[];
  readonly keyID: string;
  private readonly alg: ReturnType<typeof jwsAlgorithm>;
  private readonly now: () => Date;
  private readonly newJTI: () => string;

  constructor(
    private readonly key: KeyObject,
    private readonly options: ServiceAccountTokenIssuerOptions = {},
  ) {
    if (key.type !== 'private') throw new Error('service account token issuer needs a private key');
    this.alg = jwsAlgorithm(key);
    this.keyID = keyIDFromPublicKey(key);
    this.issuer = options.issuer ?? DEFAULT_ISSUER;
    this.apiAudiences = options.apiAudiences?.length ? [...options.apiAudiences] : [this.issuer];
    this.now = options.now ?? (() => new Date());
    this.newJTI = options.newJTI ?? randomUUID;
  }

  /** From sa.key (PKCS#8, PKCS#1 or SEC1 PEM). */
  static fromPEM(privateKeyPem: string, options?: ServiceAccountTokenIssuerOptions): ServiceAccountTokenIssuer {
    return new ServiceAccountTokenIssuer(createPrivateKey(privateKeyPem), options);
  }

  /** Field errors of a TokenRequest spec, in upstream's words; empty when valid. */
  static validate(req: Pick<TokenRequestInput, 'expirationSeconds'>): FieldError[] {
    const exp = req.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
    const errs: FieldError[] = [];
    if (exp < MIN_EXPIRATION_SECONDS) errs.push(invalidValue('spec.expirationSeconds', exp, 'may not specify a duration less than 10 minutes'));
    if (exp > MAX_EXPIRATION_SECONDS) errs.push(invalidValue('spec.expirationSeconds', exp, 'may not specify a duration larger than 2^32 seconds'));
    return errs;
  }

  private async sign(payload: unknown): Promise<string> {
    return new CompactSign(new TextEncoder().encode(sortedJSON(payload))).setProtectedHeader({ alg: this.alg, kid: this.keyID }).sign(this.key);
  }

  /**
   * Issues a bound token (POST serviceaccounts/<name>/token). Throws a 422 StatusError for an invalid
   * expiration. The caller has already checked that the ServiceAccount and the bound object exist and
   * that a bound pod runs as this ServiceAccount.
   */
  async issueToken(req: TokenRequestInput): Promise<IssuedToken> {
    const errs = ServiceAccountTokenIssuer.validate(req);
    if (errs.length) throw invalid('TokenRequest', 'authentication.k8s.io', req.name, errs);
    let requested = req.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
    const max = this.options.maxExpirationSeconds ?? 0;
    if (max > 0 && requested > max) requested = max;
    const audiences = req.audiences?.length ? [...req.audiences] : [...this.apiAudiences];
    let lifetime = requested;
    let warnAfterSeconds: number | undefined;
    const kubeAudiences = audiences.every((a) => this.apiAudiences.includes(a));
    if ((this.options.extendExpiration ?? true) && req.boundObject?.kind === 'Pod' && requested === WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS && kubeAudiences) {
      warnAfterSeconds = requested;
      lifetime = Math.max(EXPIRATION_EXTENSION_SECONDS, max);
    }
    const now = Math.floor(this.now().getTime() / 1000);
    const b = req.boundObject;
    const claims: BoundTokenClaims = {
      kind: 'bound',
      issuer: this.issuer,
      subject: serviceAccountUsername(req.namespace, req.name),
      audiences,
      issuedAt: now,
      notBefore: now,
      expiresAt: now + lifetime,
      jti: this.newJTI(),
      namespace: req.namespace,
      serviceAccount: { name: req.name, uid: req.uid },
      pod: b?.kind === 'Pod' ? { name: b.name, uid: b.uid } : undefined,
      secret: b?.kind === 'Secret' ? { name: b.name, uid: b.uid } : undefined,
      node: b?.kind === 'Node' ? { name: b.name, uid: b.uid } : b?.kind === 'Pod' && b.node ? b.node : undefined,
      warnAfter: warnAfterSeconds === undefined ? undefined : now + warnAfterSeconds,
    };
    const token = await this.sign({
      aud: claims.audiences,
      exp: claims.expiresAt,
      iat: claims.issuedAt,
      iss: claims.issuer,
      jti: claims.jti,
      'kubernetes.io': {
        namespace: claims.namespace,
        node: claims.node && ref(claims.node),
        pod: claims.pod && ref(claims.pod),
        secret: claims.secret && ref(claims.secret),
        serviceaccount: ref(claims.serviceAccount),
        warnafter: claims.warnAfter,
      },
      nbf: claims.notBefore,
      sub: claims.subject,
    });
    return { token, expirationTimestamp: new Date((now + requested) * 1000), claims };
  }

  /** A secret-based token as the old tokens controller wrote into `kubernetes.io/service-account-token` Secrets: no exp, no aud. */
  async issueLegacyToken(sa: { namespace: string; name: string; uid: string; secretName: string }): Promise<string> {
    return this.sign({
      iss: LEGACY_ISSUER,
      'kubernetes.io/serviceaccount/namespace': sa.namespace,
      'kubernetes.io/serviceaccount/secret.name': sa.secretName,
      'kubernetes.io/serviceaccount/service-account.name': sa.name,
      'kubernetes.io/serviceaccount/service-account.uid': sa.uid,
      sub: serviceAccountUsername(sa.namespace, sa.name),
    });
  }
}

export interface ServiceAccountTokenAuthenticatorOptions {
  /** PEM with the public keys that may have signed tokens (sa.pub; --service-account-key-file, repeatable). */
  publicKeysPem: string;
  /** Accepted issuers of bound tokens (--service-account-issuer values); default [DEFAULT_ISSUER]. */
  issuers?: readonly string[];
  /** --api-audiences; default the issuers. A token must carry one of them. */
  apiAudiences?: readonly string[];
  /** Accept secret-based tokens of issuer "kubernetes/serviceaccount"; default true. */
  legacy?: boolean;
  /**
   * Checks that the ServiceAccount (and bound pod/secret/node) still exist with the claimed UIDs
   * (--service-account-lookup). Without it every well-signed, unexpired token is accepted.
   */
  isLive?: IsLive;
  now?: () => Date;
}

interface VerifyKey {
  kid: string;
  alg: string;
  key: KeyObject;
}

const fail = (reason: string): AuthResult => ({ ok: false, reason });

/** Go's %q of a []string: ["a" "b"]. */
const goQuoteList = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

function b64urlJSON(part: string | undefined): Record<string, unknown> | undefined {
  if (!part || !/^[A-Za-z0-9_-]*$/.test(part)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const optRef = (v: unknown): ObjectRef | undefined => (v && typeof v === 'object' ? { name: str(rec(v).name), uid: str(rec(v).uid) } : undefined);

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** upstream SplitUsername: system:serviceaccount:<namespace>:<name> with valid names, or undefined. */
export function splitServiceAccountUsername(username: string): { namespace: string; name: string } | undefined {
  const prefix = 'system:serviceaccount:';
  if (!username.startsWith(prefix)) return undefined;
  const parts = username.slice(prefix.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace = '', name = ''] = parts;
  if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) return undefined;
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) return undefined;
  return { namespace, name };
}

function boundClaims(p: Record<string, unknown>): BoundTokenClaims {
  const k = rec(p['kubernetes.io']);
  const aud = p.aud;
  return {
    kind: 'bound',
    issuer: str(p.iss),
    subject: str(p.sub),
    audiences: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [],
    issuedAt: num(p.iat),
    notBefore: num(p.nbf),
    expiresAt: num(p.exp),
    jti: str(p.jti) || undefined,
    namespace: str(k.namespace),
    serviceAccount: optRef(k.serviceaccount) ?? { name: '', uid: '' },
    pod: optRef(k.pod),
    secret: optRef(k.secret),
    node: optRef(k.node),
    warnAfter: num(k.warnafter),
  };
}

/** upstream validator.Validate's time checks (go-jose order: nbf, exp, iat; one minute leeway). */
function checkTimes(c: BoundTokenClaims, nowSeconds: number): string | undefined {
  if (c.notBefore !== undefined && nowSeconds + LEEWAY_SECONDS < c.notBefore) return 'service account token is not valid yet';
  if (c.expiresAt !== undefined && nowSeconds - LEEWAY_SECONDS > c.expiresAt) return 'service account token has expired';
  if (c.issuedAt !== undefined && nowSeconds + LEEWAY_SECONDS < c.issuedAt) return 'service account token is issued in the future';
  return undefined;
}

function legacyClaims(p: Record<string, unknown>, token: string): LegacyTokenClaims | string {
  const subject = str(p.sub);
  const namespace = str(p['kubernetes.io/serviceaccount/namespace']);
  const secretName = str(p['kubernetes.io/serviceaccount/secret.name']);
  const name = str(p['kubernetes.io/serviceaccount/service-account.name']);
  const uid = str(p['kubernetes.io/serviceaccount/service-account.uid']);
  if (!subject) return 'sub claim is missing';
  if (!namespace) return 'namespace claim is missing';
  if (!secretName) return 'secretName claim is missing';
  if (!name) return 'serviceAccountName claim is missing';
  if (!uid) return 'serviceAccountUID claim is missing';
  const split = splitServiceAccountUsername(subject);
  if (!split || split.namespace !== namespace || split.name !== name) return 'sub claim is invalid';
  return { kind: 'legacy', issuer: LEGACY_ISSUER, subject, namespace, serviceAccount: { name, uid }, secretName, token };
}

/** upstream ServiceAccountInfo.UserInfo. */
export function serviceAccountUserInfo(c: ServiceAccountTokenClaims): UserInfo {
  const user: UserInfo = {
    name: serviceAccountUsername(c.namespace, c.serviceAccount.name),
    uid: c.serviceAccount.uid,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${c.namespace}`, ALL_AUTHENTICATED],
  };
  if (c.kind === 'legacy') return user;
  const extra: Record<string, string[]> = {};
  if (c.pod?.name && c.pod.uid) {
    extra[POD_NAME_KEY] = [c.pod.name];
    extra[POD_UID_KEY] = [c.pod.uid];
  }
  if (c.jti) extra[CREDENTIAL_ID_KEY] = [`JTI=${c.jti}`];
  // Node info comes from a pod-bound token's embedded node, or from a token bound to the node itself.
  if (c.node?.name && (c.pod || !c.secret)) {
    extra[NODE_NAME_KEY] = [c.node.name];
    if (c.node.uid) extra[NODE_UID_KEY] = [c.node.uid];
  }
  if (Object.keys(extra).length) user.extra = extra;
  return user;
}

/** The TokenAuthenticator for ServiceAccount JWTs; tokens of other issuers (or non-JWTs) get "no opinion". */
export function serviceAccountTokenAuthenticator(options: ServiceAccountTokenAuthenticatorOptions): TokenAuthenticator {
  const keys: VerifyKey[] = decodePublicKeysPEM(options.publicKeysPem).map((key) => ({ kid: keyIDFromPublicKey(key), alg: jwsAlgorithm(key), key }));
  const issuers = new Set(options.issuers?.length ? options.issuers : [DEFAULT_ISSUER]);
  const legacy = options.legacy ?? true;
  const apiAudiences = options.apiAudiences?.length ? [...options.apiAudiences] : [...issuers];
  const now = options.now ?? (() => new Date());

  return {
    async authenticateToken(token: string, requestedAudiences?: readonly string[]): Promise<AuthResult> {
      // hasCorrectIssuer: a JWS in compact form whose unverified iss is one of ours, else no opinion.
      if (token.trim().startsWith('{')) return undefined;
      const parts = token.split('.');
      if (parts.length !== 3) return undefined;
      const unverified = b64urlJSON(parts[1]);
      const iss = str(unverified?.iss);
      const isLegacy = legacy && iss === LEGACY_ISSUER;
      if (!issuers.has(iss) && !isLegacy) return undefined;

      const header = b64urlJSON(parts[0]);
      if (!header) return undefined;
      const kid = str(header.kid);
      const candidates = kid ? keys.filter((k) => k.kid === kid) : keys;
      if (candidates.length === 0) return fail('invalid signature, no keys found');
      let payload: Record<string, unknown> | undefined;
      for (const k of candidates) {
        try {
          const r = await compactVerify(token, k.key, { algorithms: [k.alg] });
          payload = rec(JSON.parse(new TextDecoder().decode(r.payload)));
          break;
        } catch {
          // try the next key; the error is the same for all of them
        }
      }
      if (!payload) return fail('go-jose/go-jose: error in cryptographic primitive');
      if (!issuers.has(str(payload.iss)) && !(legacy && payload.iss === LEGACY_ISSUER)) return fail(`token issuer ${JSON.stringify(str(payload.iss))} is invalid`);

      const claims: ServiceAccountTokenClaims | string = isLegacy ? legacyClaims(payload, token) : boundClaims(payload);
      if (typeof claims === 'string') return fail(claims);
      const tokenAudiences = claims.kind === 'bound' && claims.audiences.length ? claims.audiences : apiAudiences;
      const targets = requestedAudiences?.length ? requestedAudiences : apiAudiences;
      const audiences = tokenAudiences.filter((a) => targets.includes(a));
      if (audiences.length === 0 && apiAudiences.length) {
        return fail(`token audiences ${goQuoteList(tokenAudiences)} is invalid for the target audiences ${goQuoteList(targets)}`);
      }
      if (claims.kind === 'bound') {
        const timeFailure = checkTimes(claims, Math.floor(now().getTime() / 1000));
        if (timeFailure) return fail(timeFailure);
        if (!claims.namespace || !claims.serviceAccount.name) return fail('service account token claims could not be validated due to unexpected private claim');
      }
      if (options.isLive) {
        const live = await options.isLive(claims);
        if (live !== true) return fail(live === false ? 'service account token has been invalidated' : live.reason);
      }
      return { ok: true, user: serviceAccountUserInfo(claims), authenticator: SERVICE_ACCOUNT_AUTHENTICATOR, audiences };
    },
  };
}
