// The node token that lets `k8ts agent --server URL --token T` join a cluster, in k3s's format
// `K10<sha256 hex of the CA PEM bytes>::server:<secret>`: the hash pins the cluster CA the agent
// downloads from the unauthenticated /cacerts, the secret is the bearer token of TLS bootstrap.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../pki/files.js';

/** k3s's token prefix (format version 10). */
export const NODE_TOKEN_PREFIX = 'K10';
/** The user part of a server token (k3s writes `server` there too). */
export const NODE_TOKEN_USERNAME = 'server';
/** Files under `<dataDir>/server/` that hold the same token (k3s writes both). */
export const NODE_TOKEN_FILES = ['node-token', 'token'] as const;

export class NodeTokenError extends Error {
  override readonly name = 'NodeTokenError';
  constructor(
    readonly code: 'InvalidToken' | 'CAHashMismatch',
    message: string,
  ) {
    super(message);
  }
}

export interface NodeToken {
  /** Lower-case hex SHA-256 of the CA bundle bytes; absent for a plain secret. */
  caHash?: string;
  /** The user part (`server`); absent for a plain secret. */
  username?: string;
  /** The secret (the whole token when it is a plain secret). */
  secret: string;
}

/** sha256 hex of the CA bundle exactly as /cacerts serves it. */
export function caHashOf(caPem: string | Uint8Array): string {
  return createHash('sha256').update(caPem).digest('hex');
}

/** `K10<hash>::server:<secret>`. */
export function formatNodeToken(caPem: string, secret: string): string {
  return `${NODE_TOKEN_PREFIX}${caHashOf(caPem)}::${NODE_TOKEN_USERNAME}:${secret}`;
}

/**
 * Parses a token as k3s does: `K10<hex>::<user>:<secret>` is a full token; anything without the
 * `K10` prefix is a plain secret (which gives no CA pin). Throws InvalidToken for a `K10` token that
 * is malformed, so a typo is not silently treated as a plain secret.
 */
export function parseNodeToken(token: string): NodeToken {
  const t = token.trim();
  if (!t) throw new NodeTokenError('InvalidToken', 'the token is empty');
  if (!t.startsWith(NODE_TOKEN_PREFIX)) return { secret: t };
  const sep = t.indexOf('::');
  if (sep < 0) throw new NodeTokenError('InvalidToken', `the token starts with ${NODE_TOKEN_PREFIX} but has no "::" between the CA hash and the credentials`);
  const caHash = t.slice(NODE_TOKEN_PREFIX.length, sep).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(caHash)) throw new NodeTokenError('InvalidToken', 'the CA hash of the token is not 64 hex digits (a SHA-256)');
  const creds = t.slice(sep + 2);
  const colon = creds.indexOf(':');
  if (colon <= 0 || colon === creds.length - 1) throw new NodeTokenError('InvalidToken', 'the token has no "<user>:<secret>" after "::"');
  return { caHash, username: creds.slice(0, colon), secret: creds.slice(colon + 1) };
}

/** Throws CAHashMismatch unless `caPem` is the CA the token was made for. */
export function verifyCAHash(token: NodeToken, caPem: string | Uint8Array, server: string): void {
  if (!token.caHash) return;
  const got = caHashOf(caPem);
  if (got !== token.caHash) {
    throw new NodeTokenError(
      'CAHashMismatch',
      `the CA certificate served by ${server}/cacerts has SHA-256 ${got}, but the token expects ${token.caHash}: ` +
        'the token belongs to another cluster (or the server regenerated its CA), or something between you and the server is intercepting; ' +
        'copy the current token from <data-dir>/server/node-token on the server',
    );
  }
}

export interface EnsuredNodeToken {
  /** The full token (`K10…::server:…`). */
  token: string;
  secret: string;
  /** Paths of the files that hold it. */
  paths: string[];
}

/**
 * Reads `<dataDir>/server/node-token` or creates it (32 random hex digits of secret), and keeps
 * `token` beside it with the same content. The secret survives restarts; when the CA changed the
 * hash part is rewritten so the printed token stays valid.
 */
export async function ensureNodeToken(dataDir: string, caPem: string): Promise<EnsuredNodeToken> {
  const dir = join(dataDir, 'server');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = NODE_TOKEN_FILES.map((f) => join(dir, f));
  let secret: string | undefined;
  for (const p of paths) {
    const text = await readFile(p, 'utf8').catch(() => undefined);
    if (text === undefined || !text.trim()) continue;
    try {
      secret = parseNodeToken(text).secret;
      break;
    } catch {
      // A damaged file is replaced below with a fresh token.
    }
  }
  secret ??= randomBytes(16).toString('hex');
  const token = formatNodeToken(caPem, secret);
  for (const p of paths) {
    const current = await readFile(p, 'utf8').catch(() => undefined);
    if (current?.trim() !== token) await writeFileAtomic(p, `${token}\n`, 0o600);
  }
  return { token, secret, paths };
}
