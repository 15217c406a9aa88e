// Puts the authenticators together for the API server (x509 client certificates, ServiceAccount
// tokens checked against live objects, an optional static token file) and serves TokenRequest
// (`kubectl create token`) and TokenReview with the same issuer.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ServerPKI } from '../pki/files.js';
import type { Store } from '../storage/store.js';
import { authRequestFrom, authenticationChain, bearerTokenAuthenticator, tokenUnion } from './authn/chain.js';
import { serviceAccountLiveness } from './authn/serviceAccountLiveness.js';
import {
  DEFAULT_EXPIRATION_SECONDS,
  ServiceAccountTokenIssuer,
  serviceAccountTokenAuthenticator,
  type BoundObject,
} from './authn/serviceAccountToken.js';
import { loadTokenFile } from './authn/tokenFile.js';
import { withAuthenticatedGroup, type AuthResult, type TokenAuthenticator } from './authn/types.js';
import { x509Authenticator } from './authn/x509.js';
import type { Obj, ResourceRequest } from './handlers.js';
import type { ApiServer, UserInfo } from './server.js';
import { invalid, invalidValue, notFound } from './status.js';
import { decodeObject, type K8sObject } from './watchCache.js';

export interface Authentication {
  authenticate(req: IncomingMessage, socket: TLSSocket): Promise<UserInfo | undefined>;
  tokenRequest(req: ResourceRequest, body: Obj, api: ApiServer): Promise<Obj>;
  tokenReview(body: Obj): Promise<Obj>;
}

/** The identity of a request that presents the node token (k3s's agent join token). */
export const NODE_TOKEN_USER = 'system:bootstrap:k8ts-node';
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';
export const NODE_TOKEN_GROUP = 'system:bootstrappers:k8ts:node-token';
export const NODE_TOKEN_AUTHENTICATOR = 'nodetoken';

/** Constant-time string equality (lengths may differ). */
function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/**
 * Authenticates the node token (`K10<hash>::server:<secret>`, or only its secret, as k3s accepts) as
 * user `system:bootstrap:k8ts-node` in `system:bootstrappers` and `system:bootstrappers:k8ts:node-token`:
 * the identity that may create CertificateSigningRequests which csrapproving approves for kubelets.
 * Other tokens get "no opinion", so the next authenticator decides.
 */
export function nodeTokenAuthenticator(nodeToken: { token: string; secret: string }): TokenAuthenticator {
  return {
    async authenticateToken(token: string): Promise<AuthResult> {
      if (!tokensEqual(token, nodeToken.token) && !tokensEqual(token, nodeToken.secret)) return undefined;
      return {
        ok: true,
        user: withAuthenticatedGroup({ name: NODE_TOKEN_USER, groups: [BOOTSTRAPPERS_GROUP, NODE_TOKEN_GROUP] }),
        authenticator: NODE_TOKEN_AUTHENTICATOR,
      };
    },
  };
}

export interface AuthenticationOptions {
  pki: ServerPKI;
  tokenAuthFile?: string | undefined;
  store: Store;
  /** The server's node token (full form and secret part) for agents joining with `--token`. */
  nodeToken?: { token: string; secret: string } | undefined;
}

export async function createAuthentication(opts: AuthenticationOptions): Promise<Authentication> {
  const issuer = ServiceAccountTokenIssuer.fromPEM(opts.pki.serviceAccount.keyPem);
  const read = async (key: string): Promise<K8sObject | undefined> => {
    const o = await opts.store.get(key);
    return o ? decodeObject(o) : undefined;
  };
  const isLive = serviceAccountLiveness({
    getServiceAccount: (ns, name) => read(`/registry/serviceaccounts/${ns}/${name}`),
    getSecret: (ns, name) => read(`/registry/secrets/${ns}/${name}`),
    getPod: (ns, name) => read(`/registry/pods/${ns}/${name}`),
    getNode: (name) => read(`/registry/minions/${name}`),
  } as Parameters<typeof serviceAccountLiveness>[0]);
  const saTokens = serviceAccountTokenAuthenticator({ publicKeysPem: opts.pki.serviceAccount.pubPem, issuers: [issuer.issuer], apiAudiences: issuer.apiAudiences, isLive });
  const tokens: TokenAuthenticator[] = [saTokens];
  if (opts.tokenAuthFile) tokens.unshift(await loadTokenFile(opts.tokenAuthFile));
  if (opts.nodeToken?.secret) tokens.unshift(nodeTokenAuthenticator(opts.nodeToken));
  const chain = authenticationChain({
    authenticators: [x509Authenticator({ clientCAPem: opts.pki.ca.certPem }), bearerTokenAuthenticator(tokens)],
    anonymous: false,
  });

  // Reading the peer certificate costs about a millisecond; it is the same for every request of a connection.
  const peerOf = new WeakMap<object, ReturnType<typeof authRequestFrom>['peerCertificate'] | null>();
  return {
    async authenticate(req) {
      let peer = peerOf.get(req.socket);
      if (peer === undefined) {
        peer = authRequestFrom(req).peerCertificate ?? null;
        peerOf.set(req.socket, peer);
      }
      const d = await chain.authenticate(peer ? { headers: req.headers, peerCertificate: peer } : { headers: req.headers });
      return d.authenticated ? d.user : undefined;
    },

    async tokenRequest(req, body, api) {
      const sa = await api.registryFor('', 'serviceaccounts')!.get(req.namespace, req.name!);
      const spec = (body.spec ?? {}) as Obj;
      const expirationSeconds = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
      let boundObject: BoundObject | undefined;
      const ref = spec.boundObjectRef as Obj | undefined;
      if (ref?.kind) {
        const plural = ref.kind === 'Pod' ? 'pods' : ref.kind === 'Secret' ? 'secrets' : ref.kind === 'Node' ? 'nodes' : undefined;
        if (!plural) throw invalid('TokenRequest', 'authentication.k8s.io', req.name!, [invalidValue('spec.boundObjectRef.kind', ref.kind, 'must be one of Pod, Secret, Node')]);
        const obj = await api.registryFor('', plural)!.tryGet(plural === 'nodes' ? undefined : req.namespace, ref.name);
        if (!obj) throw notFound({ group: '', resource: plural }, ref.name);
        boundObject = { kind: ref.kind, name: ref.name, uid: obj.metadata.uid } as BoundObject;
      }
      const issued = await issuer.issueToken({
        namespace: req.namespace!,
        name: sa.metadata.name,
        uid: sa.metadata.uid,
        audiences: spec.audiences?.length ? spec.audiences : undefined,
        expirationSeconds,
        boundObject,
      });
      return {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { name: sa.metadata.name, namespace: req.namespace, creationTimestamp: null },
        spec: { audiences: spec.audiences?.length ? spec.audiences : [...issuer.apiAudiences], expirationSeconds, boundObjectRef: ref ?? null },
        status: { token: issued.token, expirationTimestamp: issued.expirationTimestamp.toISOString().replace(/\.\d{3}Z$/, 'Z') },
      };
    },

    async tokenReview(body) {
      const token = body?.spec?.token;
      const audiences: string[] | undefined = body?.spec?.audiences;
      const r = typeof token === 'string' && token ? await tokenUnion(tokens).authenticateToken(token, audiences) : undefined;
      const status: Obj = r?.ok
        ? { authenticated: true, user: { username: r.user.name, uid: r.user.uid, groups: r.user.groups, extra: r.user.extra }, audiences: r.audiences ?? audiences ?? [...issuer.apiAudiences] }
        : { user: {}, error: r && !r.ok ? r.reason : 'token not recognized' };
      return { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec ?? {}, status };
    },
  };
}
