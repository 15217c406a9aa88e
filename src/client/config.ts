// Where a component learns how to reach the apiserver: a kubeconfig file (current or named
// context) or, inside a pod, the service account's token and CA (client-go's rest.InClusterConfig).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { readKubeconfig, resolveKubeconfig } from '../pki/kubeconfig.js';

/** Everything the REST client needs to connect and authenticate. */
export interface ClientConfig {
  /** https://host:port (or http:// for a plain-text test server), without a trailing path. */
  server: string;
  /** PEM of the CA that signed the server's certificate; absent = the system roots. */
  caPem?: string;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
  /** Client certificate and key (PEM) for x509 authentication. */
  certPem?: string;
  keyPem?: string;
  /** A static bearer token. */
  token?: string;
  /** A bearer token re-read from this file (projected service-account tokens rotate). */
  tokenFile?: string;
  /** The context's namespace (or the pod's), for callers that want a default. */
  namespace?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeconfigOptions {
  /** The kubeconfig file; default $KUBECONFIG (first entry) or ~/.kube/config. */
  path?: string;
  /** Like kubectl --context: use this context instead of current-context. */
  context?: string;
}

/** Reads a kubeconfig file and resolves its (current or named) context to a ClientConfig. */
export async function loadKubeconfigConfig(options: LoadKubeconfigOptions = {}): Promise<ClientConfig> {
  const path = options.path ?? defaultKubeconfigPath();
  const kc = await readKubeconfig(path);
  const resolved = await resolveKubeconfig(kc, { baseDir: dirname(path), ...(options.context ? { context: options.context } : {}) });
  const contextName = resolved.contextName;
  const userName = kc.contexts.find((c) => c.name === contextName)?.context.user;
  const user = kc.users.find((u) => u.name === userName)?.user;
  const config: ClientConfig = { server: resolved.server.replace(/\/+$/, '') };
  if (resolved.caPem) config.caPem = resolved.caPem;
  if (resolved.insecureSkipTLSVerify) config.insecureSkipTLSVerify = true;
  if (resolved.tlsServerName) config.tlsServerName = resolved.tlsServerName;
  if (resolved.clientCertPem) config.certPem = resolved.clientCertPem;
  if (resolved.clientKeyPem) config.keyPem = resolved.clientKeyPem;
  // An inline token wins; a tokenFile is kept as a path so rotation is picked up.
  if (user?.token) config.token = user.token;
  else if (user?.tokenFile) config.tokenFile = isAbsolute(user.tokenFile) ? user.tokenFile : resolve(dirname(path), user.tokenFile);
  if (resolved.namespace) config.namespace = resolved.namespace;
  return config;
}

/** $KUBECONFIG's first file, else ~/.kube/config. */
export function defaultKubeconfigPath(): string {
  const env = process.env.KUBECONFIG?.split(process.platform === 'win32' ? ';' : ':').find((p) => p);
  return env ?? join(homedir(), '.kube', 'config');
}

export interface InClusterOptions {
  /** Environment to read KUBERNETES_SERVICE_HOST/PORT from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Folder holding token, ca.crt and namespace (default the upstream path). */
  serviceAccountDir?: string;
}

/** True when the process runs in a pod with the apiserver's service environment. */
export function isInCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/** client-go's InClusterConfig: the kubernetes Service's address, the mounted token (re-read as it rotates) and CA. */
export async function inClusterConfig(options: InClusterOptions = {}): Promise<ClientConfig> {
  const env = options.env ?? process.env;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error('unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined');
  }
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = join(dir, 'token');
  await readFile(tokenFile, 'utf8'); // fail now, not on the first request, if it is not mounted
  const config: ClientConfig = { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, tokenFile };
  try {
    config.caPem = await readFile(join(dir, 'ca.crt'), 'utf8');
  } catch {
    // upstream logs and continues with the system roots
  }
  try {
    const ns = (await readFile(join(dir, 'namespace'), 'utf8')).trim();
    if (ns) config.namespace = ns;
  } catch {
    // no namespace file: callers use their own default
  }
  return config;
}

/**
 * The usual order of a component's flags: an explicit kubeconfig, else in-cluster when in a pod,
 * else $KUBECONFIG / ~/.kube/config.
 */
export async function loadClientConfig(options: LoadKubeconfigOptions & InClusterOptions = {}): Promise<ClientConfig> {
  if (options.path) return loadKubeconfigConfig(options);
  if (isInCluster(options.env ?? process.env)) return inClusterConfig(options);
  return loadKubeconfigConfig(options);
}

/** Reads a token file, caching it for a minute as client-go's cachingTokenSource does. */
export class TokenFileSource {
  private cached: { token: string; at: number } | undefined;
  constructor(readonly path: string, private readonly maxAgeMs = 60_000) {}

  token(now = Date.now()): string {
    if (this.cached && now - this.cached.at < this.maxAgeMs) return this.cached.token;
    try {
      this.cached = { token: readFileSync(this.path, 'utf8').trim(), at: now };
    } catch (err) {
      // keep serving the last good token if the file is briefly absent during rotation
      if (!this.cached) throw err;
    }
    return this.cached.token;
  }
}
