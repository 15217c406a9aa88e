// kubeconfig files (client-go clientcmd v1 `Config`): build one for a user of our cluster, write it
// atomically with mode 0600, read one back and resolve its current context to concrete credentials.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { PKIError } from './errors.js';
import { writeFileAtomic } from './files.js';

export interface KubeconfigCluster {
  server: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
  'disable-compression'?: boolean;
}

export interface KubeconfigUser {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  /** exec / auth-provider plugins are kept as read, never run here. */
  exec?: unknown;
  'auth-provider'?: unknown;
}

export interface KubeconfigContext {
  cluster: string;
  user: string;
  namespace?: string;
}

export interface Kubeconfig {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: Array<{ name: string; cluster: KubeconfigCluster }>;
  contexts: Array<{ name: string; context: KubeconfigContext }>;
  'current-context': string;
  preferences: Record<string, unknown>;
  users: Array<{ name: string; user: KubeconfigUser }>;
}

export interface KubeconfigSpec {
  /** Name of the cluster, user and context unless the specific names are given (e.g. "k8ts"). */
  name: string;
  /** https://host:port of the apiserver. */
  server: string;
  caPem: string;
  /** Client certificate (PEM) of the user; needs `keyPem`. */
  certPem?: string;
  /** The client certificate's private key (PEM). */
  keyPem?: string;
  /** Bearer token of the user (instead of, or besides, a certificate). */
  token?: string;
  clusterName?: string;
  userName?: string;
  contextName?: string;
  namespace?: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A single-cluster, single-user kubeconfig with embedded (`*-data`) credentials. */
export function buildKubeconfig(spec: KubeconfigSpec): Kubeconfig {
  const clusterName = spec.clusterName ?? spec.name;
  const userName = spec.userName ?? spec.name;
  const contextName = spec.contextName ?? spec.name;
  if ((spec.certPem === undefined) !== (spec.keyPem === undefined)) {
    throw new PKIError('InvalidKubeconfig', 'a client certificate needs its key and a key its certificate');
  }
  const user: KubeconfigUser = {};
  if (spec.certPem !== undefined && spec.keyPem !== undefined) {
    user['client-certificate-data'] = b64(spec.certPem);
    user['client-key-data'] = b64(spec.keyPem);
  }
  if (spec.token !== undefined) user.token = spec.token;
  const context: KubeconfigContext = { cluster: clusterName, user: userName };
  if (spec.namespace) context.namespace = spec.namespace;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: clusterName, cluster: { 'certificate-authority-data': b64(spec.caPem), server: spec.server } }],
    contexts: [{ name: contextName, context }],
    'current-context': contextName,
    preferences: {},
    users: [{ name: userName, user }],
  };
}

/** YAML text in kubectl's key order; long base64 values stay on one line. */
export function renderKubeconfig(config: Kubeconfig): string {
  return stringify(config, { lineWidth: 0, minContentWidth: 0 });
}

/** Writes the kubeconfig atomically with mode 0600 (it holds a private key or token). */
export async function writeKubeconfig(path: string, config: Kubeconfig | KubeconfigSpec): Promise<void> {
  const cfg = 'kind' in config ? config : buildKubeconfig(config);
  await writeFileAtomic(path, renderKubeconfig(cfg), 0o600);
}

function bad(why: string): PKIError {
  return new PKIError('InvalidKubeconfig', why);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function namedList<T>(doc: Record<string, unknown>, field: string, inner: string): Array<{ name: string } & Record<string, T>> {
  const list = doc[field] ?? [];
  if (!Array.isArray(list)) throw bad(`${field} must be a list`);
  return list.map((item: unknown, i) => {
    if (!isRecord(item) || typeof item.name !== 'string' || !isRecord(item[inner] ?? {})) {
      throw bad(`${field}[${i}] must have a name and a ${inner} map`);
    }
    return { ...item, name: item.name, [inner]: (item[inner] ?? {}) as T } as { name: string } & Record<string, T>;
  });
}

/** Parses kubeconfig YAML (or JSON) and checks its shape; values are not resolved. */
export function parseKubeconfig(text: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new PKIError('InvalidKubeconfig', `kubeconfig is not YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isRecord(doc)) throw bad('kubeconfig must be a map');
  if (doc.kind !== undefined && doc.kind !== 'Config') throw bad(`kind is ${JSON.stringify(doc.kind)}, want "Config"`);
  if (doc.apiVersion !== undefined && doc.apiVersion !== 'v1') throw bad(`apiVersion is ${JSON.stringify(doc.apiVersion)}, want "v1"`);
  const clusters = namedList<KubeconfigCluster>(doc, 'clusters', 'cluster');
  const users = namedList<KubeconfigUser>(doc, 'users', 'user');
  const contexts = namedList<KubeconfigContext>(doc, 'contexts', 'context');
  const current = doc['current-context'] ?? '';
  if (typeof current !== 'string') throw bad('current-context must be a string');
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: clusters.map(({ name, cluster }) => ({ name, cluster: cluster as KubeconfigCluster })),
    contexts: contexts.map(({ name, context }) => ({ name, context: context as KubeconfigContext })),
    'current-context': current,
    preferences: isRecord(doc.preferences) ? doc.preferences : {},
    users: users.map(({ name, user }) => ({ name, user: user as KubeconfigUser })),
  };
}

export async function readKubeconfig(path: string): Promise<Kubeconfig> {
  return parseKubeconfig(await readFile(path, 'utf8'));
}

/** A context resolved to what a client needs to connect. */
export interface ResolvedKubeconfig {
  contextName: string;
  clusterName: string;
  userName: string;
  namespace: string | undefined;
  server: string;
  caPem: string | undefined;
  insecureSkipTLSVerify: boolean;
  tlsServerName: string | undefined;
  clientCertPem: string | undefined;
  clientKeyPem: string | undefined;
  token: string | undefined;
}

/**
 * Resolves the current (or the named) context. Like clientcmd, `*-data` wins over the file path, and
 * relative paths are relative to the kubeconfig's folder (`baseDir`).
 */
export async function resolveKubeconfig(config: Kubeconfig, options: { baseDir?: string; context?: string } = {}): Promise<ResolvedKubeconfig> {
  const contextName = options.context ?? config['current-context'];
  if (!contextName) throw bad('no current-context is set; pass a context name');
  const ctx = config.contexts.find((c) => c.name === contextName)?.context;
  if (!ctx) throw bad(`context "${contextName}" does not exist`);
  const cluster = config.clusters.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw bad(`cluster "${ctx.cluster}" of context "${contextName}" does not exist`);
  const user = config.users.find((u) => u.name === ctx.user)?.user ?? {};
  if (typeof cluster.server !== 'string' || !cluster.server) throw bad(`cluster "${ctx.cluster}" has no server`);
  const baseDir = options.baseDir ?? process.cwd();
  const load = async (data: unknown, file: unknown, what: string): Promise<string | undefined> => {
    if (typeof data === 'string' && data) return Buffer.from(data, 'base64').toString('utf8');
    if (typeof file === 'string' && file) {
      const path = isAbsolute(file) ? file : resolve(baseDir, file);
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        throw new PKIError('InvalidKubeconfig', `cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    return undefined;
  };
  const [caPem, clientCertPem, clientKeyPem, tokenFromFile] = await Promise.all([
    load(cluster['certificate-authority-data'], cluster['certificate-authority'], 'certificate-authority'),
    load(user['client-certificate-data'], user['client-certificate'], 'client-certificate'),
    load(user['client-key-data'], user['client-key'], 'client-key'),
    user.token ? Promise.resolve(undefined) : load(undefined, user.tokenFile, 'tokenFile'),
  ]);
  return {
    contextName,
    clusterName: ctx.cluster,
    userName: ctx.user,
    namespace: ctx.namespace || undefined,
    server: cluster.server,
    caPem,
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: cluster['tls-server-name'] || undefined,
    clientCertPem,
    clientKeyPem,
    token: user.token || tokenFromFile?.trim() || undefined,
  };
}

/** Reads and resolves a kubeconfig file in one step. */
export async function loadKubeconfig(path: string, context?: string): Promise<ResolvedKubeconfig> {
  return resolveKubeconfig(await readKubeconfig(path), { baseDir: dirname(path), ...(context ? { context } : {}) });
}
