// An OCI distribution (Docker Registry HTTP API v2) client for pulls: `/v2/` ping, Basic and Bearer-token
// auth from `WWW-Authenticate` challenges, manifests and indexes (platform selection), and blob downloads
// verified against their digests. Failures are RuntimeErrors whose messages read like containerd's.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { RuntimeError, type AuthConfig } from '../runtime/types.js';
import { logger } from '../../util/log.js';
import { hashingTap } from './unpack.js';
import {
  documentKind,
  hostPlatform,
  INDEX_TYPES,
  MediaType,
  parseIndex,
  parseManifest,
  selectPlatform,
  type Descriptor,
  type Manifest,
  type Platform,
} from './oci.js';
import { formatReference, registryHost, type ImageReference } from './reference.js';

const log = logger('images');

const MANIFEST_ACCEPT = [MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex, MediaType.dockerManifestList].join(', ');

export interface RegistryClientOptions {
  /** Registries (`host[:port]`) reached over plain HTTP; `localhost` and loopback addresses always are. */
  insecureRegistries?: readonly string[];
  userAgent?: string;
  platform?: Platform;
}

export interface ResolvedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  parsed: Manifest;
}

/** A parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (quoted values may hold commas). */
export function parseWwwAuthenticate(header: string): AuthChallenge | undefined {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!)) !== null) {
    if (p[0] === '') break;
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** `user:password` from a CRI AuthConfig (username/password or the base64 `auth` field). */
export function basicCredentials(auth?: AuthConfig): { username: string; password: string } | undefined {
  if (!auth) return undefined;
  if (auth.username) return { username: auth.username, password: auth.password ?? '' };
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString();
    const i = decoded.indexOf(':');
    if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  return undefined;
}

function isLoopbackHost(domain: string): boolean {
  const host = domain.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Go's wording for common dial errors, so messages read like the rest of the ecosystem's. */
function describeNetworkError(err: unknown, host: string): string {
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException);
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${host}: connect: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${host.replace(/:\d+$/, '')}: no such host`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `dial tcp ${host}: i/o timeout`;
    case 'ECONNRESET':
      return `read tcp ${host}: connection reset by peer`;
    default:
      return cause?.message ?? String(err);
  }
}

/** The `code: message` of a distribution error body (`{"errors":[{"code":"UNAUTHORIZED","message":"…"}]}`). */
async function serverMessage(res: Response): Promise<string | undefined> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = body.errors?.[0];
    if (e?.code) return `${e.code.toLowerCase()}: ${e.message ?? ''}`.trim();
  } catch {
    // not JSON: fall through
  }
  return text.trim().slice(0, 200) || undefined;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** One client per store: it caches challenges per registry and tokens per scope. */
export class RegistryClient {
  private readonly insecure: Set<string>;
  private readonly userAgent: string;
  private readonly platform: Platform;
  private readonly challenges = new Map<string, AuthChallenge | null>();
  private readonly tokens = new Map<string, CachedToken>();

  constructor(opts: RegistryClientOptions = {}) {
    this.insecure = new Set(opts.insecureRegistries ?? []);
    this.userAgent = opts.userAgent ?? 'k8ts-kubelet';
    this.platform = opts.platform ?? hostPlatform();
  }

  /** `http` for loopback and configured insecure registries, else `https`. */
  baseUrl(domain: string): string {
    const host = registryHost(domain);
    const plain = isLoopbackHost(host) || this.insecure.has(host) || this.insecure.has(domain) || this.insecure.has(host.replace(/:\d+$/, ''));
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  private async send(url: string, init: RequestInit, host: string, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(url, { ...init, headers: { 'User-Agent': this.userAgent, ...(init.headers as Record<string, string>) }, ...(signal ? { signal } : {}) });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new RuntimeError('RegistryUnavailable', `failed to do request: ${init.method ?? 'GET'} "${url}": ${describeNetworkError(err, host)}`, { cause: err });
    }
  }

  /** The `/v2/` ping: learns (and caches) how the registry wants to be authenticated. */
  async ping(domain: string, signal?: AbortSignal): Promise<AuthChallenge | undefined> {
    const cached = this.challenges.get(domain);
    if (cached !== undefined) return cached ?? undefined;
    const host = registryHost(domain);
    const url = `${this.baseUrl(domain)}/v2/`;
    const res = await this.send(url, { method: 'GET' }, host, signal);
    await res.body?.cancel();
    let challenge: AuthChallenge | null = null;
    if (res.status === 401) {
      const header = res.headers.get('www-authenticate');
      challenge = (header && parseWwwAuthenticate(header)) || null;
    } else if (res.status >= 500) {
      throw new RuntimeError('RegistryUnavailable', `unexpected status from GET request to ${url}: ${res.status} ${res.statusText}`);
    }
    this.challenges.set(domain, challenge);
    return challenge ?? undefined;
  }

  private async authorization(ref: ImageReference, auth: AuthConfig | undefined, challenge: AuthChallenge | undefined, signal?: AbortSignal): Promise<string | undefined> {
    if (auth?.registryToken) return `Bearer ${auth.registryToken}`;
    const creds = basicCredentials(auth);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      return creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    }
    if (challenge.scheme !== 'bearer') return undefined;
    const realm = challenge.params.realm;
    if (!realm) throw new RuntimeError('ImagePullFailed', `registry ${ref.domain} asked for a bearer token without a realm`);
    const scope = `repository:${ref.path}:pull`;
    const service = challenge.params.service ?? '';
    const key = `${realm}|${service}|${scope}|${creds?.username ?? ''}|${auth?.identityToken ? 'id' : ''}`;
    const hit = this.tokens.get(key);
    if (hit && hit.expiresAt > Date.now()) return `Bearer ${hit.token}`;
    const token = await this.fetchToken(realm, service, scope, auth, creds, signal);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  private async fetchToken(
    realm: string,
    service: string,
    scope: string,
    auth: AuthConfig | undefined,
    creds: { username: string; password: string } | undefined,
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    const realmUrl = new URL(realm);
    let res: Response;
    if (auth?.identityToken) {
      // An identity token is an OAuth2 refresh token (docker login with an IdP).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.identityToken, service, scope, client_id: 'k8ts' });
      res = await this.send(realmUrl.href, { method: 'POST', body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, realmUrl.host, signal);
    } else {
      if (service) realmUrl.searchParams.set('service', service);
      realmUrl.searchParams.set('scope', scope);
      const headers: Record<string, string> = {};
      if (creds) headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      res = await this.send(realmUrl.href, { method: 'GET', headers }, realmUrl.host, signal);
    }
    if (res.status === 401 || res.status === 403) {
      const msg = await serverMessage(res);
      throw new RuntimeError('ImagePullFailed', `failed to authorize: failed to fetch ${creds || auth?.identityToken ? 'oauth' : 'anonymous'} token: unexpected status from ${auth?.identityToken ? 'POST' : 'GET'} request to ${realmUrl.origin}${realmUrl.pathname}: ${res.status} ${res.statusText}${msg ? ` (${msg})` : ''}`);
    }
    if (!res.ok) throw new RuntimeError('RegistryUnavailable', `failed to authorize: unexpected status from token server ${realmUrl.origin}${realmUrl.pathname}: ${res.status} ${res.statusText}`);
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new RuntimeError('ImagePullFailed', `failed to authorize: token server ${realmUrl.origin} returned a body that is not JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new RuntimeError('ImagePullFailed', `failed to authorize: token server ${realmUrl.origin} returned no token`);
    // Tokens live at least 60 s per the token spec; refresh a little early.
    const ttl = Math.max(60, body.expires_in ?? 60);
    return { token, expiresAt: Date.now() + (ttl - 10) * 1000 };
  }

  /** A GET with auth; on a 401 it re-learns the challenge once (a token may have expired or a scope changed). */
  private async get(ref: ImageReference, path: string, auth: AuthConfig | undefined, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const url = `${this.baseUrl(ref.domain)}/v2/${ref.path}/${path}`;
    const host = registryHost(ref.domain);
    for (let attempt = 0; ; attempt++) {
      const challenge = await this.ping(ref.domain, signal);
      const authz = await this.authorization(ref, auth, challenge, signal);
      const res = await this.send(url, { method: 'GET', headers: { ...headers, ...(authz ? { Authorization: authz } : {}) } }, host, signal);
      if (res.status !== 401 || attempt > 0) return res;
      const header = res.headers.get('www-authenticate');
      const fresh = header ? parseWwwAuthenticate(header) : undefined;
      if (!fresh) return res;
      await res.body?.cancel();
      this.challenges.set(ref.domain, fresh);
      for (const k of this.tokens.keys()) if (k.includes(`|repository:${ref.path}:pull|`)) this.tokens.delete(k);
    }
  }

  private async failure(res: Response, ref: ImageReference, url: string): Promise<RuntimeError> {
    const name = formatReference(ref);
    if (res.status === 404) {
      await res.body?.cancel();
      return new RuntimeError('ImageNotFound', `${name}: not found`);
    }
    const msg = await serverMessage(res);
    if (res.status === 401 || res.status === 403) {
      return new RuntimeError('ImagePullFailed', `pull access denied, repository does not exist or may require authorization${msg ? `: server message: ${msg}` : ''}`);
    }
    if (res.status === 429 || res.status >= 500) {
      return new RuntimeError('RegistryUnavailable', `unexpected status from GET request to ${url}: ${res.status} ${res.statusText}${msg ? `: ${msg}` : ''}`);
    }
    return new RuntimeError('ImagePullFailed', `unexpected status from GET request to ${url}: ${res.status} ${res.statusText}${msg ? `: ${msg}` : ''}`);
  }

  private async fetchManifest(ref: ImageReference, reference: string, auth: AuthConfig | undefined, signal?: AbortSignal) {
    const url = `${this.baseUrl(ref.domain)}/v2/${ref.path}/manifests/${reference}`;
    const res = await this.get(ref, `manifests/${reference}`, auth, { Accept: MANIFEST_ACCEPT }, signal);
    if (!res.ok) throw await this.failure(res, ref, url);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RuntimeError('ImagePullFailed', `manifest ${reference} from ${ref.domain} does not match its digest (got ${digest})`);
    }
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(bytes.toString()) as Record<string, unknown>;
    } catch {
      throw new RuntimeError('ImagePullFailed', `manifest ${reference} from ${ref.domain} is not JSON`);
    }
    const contentType = res.headers.get('content-type')?.split(';')[0]?.trim();
    return { bytes, digest, doc, contentType };
  }

  /** Resolves a reference to an image manifest for this platform (through an index when there is one). */
  async resolve(ref: ImageReference, auth?: AuthConfig, signal?: AbortSignal): Promise<ResolvedManifest> {
    const first = await this.fetchManifest(ref, ref.digest ?? ref.tag ?? 'latest', auth, signal);
    let current = first;
    const kind = documentKind(first.doc, first.contentType);
    if (kind === 'schema1') {
      throw new RuntimeError('ImagePullFailed', `${formatReference(ref)} uses a Docker schema 1 manifest, which is deprecated and not supported: push it again with a current client`);
    }
    if (kind === 'index') {
      const index = parseIndex(first.bytes);
      const picked = selectPlatform(index, this.platform);
      if (!picked) {
        const have = index.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : m.mediaType)).join(', ');
        throw new RuntimeError('ImagePullFailed', `no match for platform in manifest: not found (want ${this.platform.os}/${this.platform.architecture}, have ${have})`);
      }
      current = await this.fetchManifest(ref, picked.digest, auth, signal);
      const k2 = documentKind(current.doc, current.contentType);
      if (k2 !== 'manifest') throw new RuntimeError('ImagePullFailed', `manifest ${picked.digest} is not an image manifest`);
    } else if (kind !== 'manifest') {
      throw new RuntimeError('ImagePullFailed', `unsupported manifest media type ${String(first.doc.mediaType ?? first.contentType)}`);
    }
    let parsed: Manifest;
    try {
      parsed = parseManifest(current.bytes);
    } catch (err) {
      throw new RuntimeError('ImagePullFailed', (err as Error).message);
    }
    const mediaType = parsed.mediaType ?? (current.contentType && !INDEX_TYPES.includes(current.contentType) ? current.contentType : MediaType.ociManifest);
    return { bytes: current.bytes, digest: current.digest, mediaType, parsed };
  }

  /** Downloads a blob to `dest`, verifying size and digest. */
  async fetchBlob(ref: ImageReference, desc: Descriptor, dest: string, auth?: AuthConfig, signal?: AbortSignal): Promise<void> {
    const url = `${this.baseUrl(ref.domain)}/v2/${ref.path}/blobs/${desc.digest}`;
    const res = await this.get(ref, `blobs/${desc.digest}`, auth, {}, signal);
    if (!res.ok || !res.body) {
      const err = await this.failure(res, ref, url);
      if (err.code === 'ImageNotFound') throw new RuntimeError('ImagePullFailed', `failed to copy: blob ${desc.digest} not found in ${ref.domain}/${ref.path}`);
      throw err;
    }
    const tap = hashingTap();
    try {
      await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream), tap, createWriteStream(dest), signal ? { signal } : {});
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new RuntimeError('RegistryUnavailable', `failed to copy: reading blob ${desc.digest}: ${describeNetworkError(err, registryHost(ref.domain))}`, { cause: err });
    }
    if (tap.digest() !== desc.digest) {
      throw new RuntimeError('ImagePullFailed', `failed commit on ref "layer-${desc.digest}": unexpected commit digest ${tap.digest()}, expected ${desc.digest}: failed precondition`);
    }
    if (tap.bytes() !== desc.size) {
      throw new RuntimeError('ImagePullFailed', `failed commit on ref "layer-${desc.digest}": unexpected commit size ${tap.bytes()}, expected ${desc.size}: failed precondition`);
    }
    log.debug({ digest: desc.digest, size: desc.size }, 'blob downloaded');
  }
}
