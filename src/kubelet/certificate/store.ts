// Where the kubelet keeps its client certificate (upstream client-go certificate fileStore):
// `<dir>/kubelet-client-<timestamp>.pem` holds certificate and key, and the symlink
// `kubelet-client-current.pem` names the one in use. A new pair is written to its own file, then the
// symlink is swapped with one rename, so a reader never sees half a pair.
import { readFile, readlink, rename, rm, symlink, writeFile, mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describeCertificate } from '../../pki/ca.js';

export interface CertificatePair {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

export class CertificateStoreError extends Error {
  override readonly name = 'CertificateStoreError';
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----\n?/g;

/** Splits a combined PEM file into its certificate chain and its private key. */
export function splitPairPEM(text: string): { certPem: string; keyPem: string } {
  let certPem = '';
  let keyPem = '';
  for (const m of text.matchAll(PEM_BLOCK)) {
    const block = m[0].endsWith('\n') ? m[0] : `${m[0]}\n`;
    if (m[1] === 'CERTIFICATE') certPem += block;
    else if (m[1]!.endsWith('PRIVATE KEY')) keyPem ||= block;
  }
  if (!certPem || !keyPem) throw new CertificateStoreError('the file does not hold both a CERTIFICATE and a PRIVATE KEY PEM block');
  return { certPem, keyPem };
}

/** Parses a pair and reads its validity (throws CertificateStoreError on a bad certificate). */
export function pairOf(certPem: string, keyPem: string): CertificatePair {
  try {
    const info = describeCertificate(certPem);
    return { certPem, keyPem, notBefore: info.notBefore, notAfter: info.notAfter };
  } catch (err) {
    throw new CertificateStoreError(`the certificate does not parse: ${(err as Error).message}`, { cause: err });
  }
}

/** `2006-01-02-15-04-05` in UTC, as upstream names the pair files. */
function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}`;
}

export class CertificateFileStore {
  /**
   * @param dir e.g. `<data-dir>/agent/pki` (upstream `/var/lib/kubelet/pki`)
   * @param prefix `kubelet-client` for the client certificate
   * @param keep pair files kept besides the current one (older ones are removed on update)
   */
  constructor(
    readonly dir: string,
    readonly prefix = 'kubelet-client',
    private readonly keep = 2,
  ) {}

  /** The path kubeconfigs point at (client-certificate and client-key alike). */
  get currentPath(): string {
    return join(this.dir, `${this.prefix}-current.pem`);
  }

  /** The pair in use, or undefined when there is none yet. */
  async current(): Promise<CertificatePair | undefined> {
    let text: string;
    try {
      text = await readFile(this.currentPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const { certPem, keyPem } = splitPairPEM(text);
    return pairOf(certPem, keyPem);
  }

  /** Writes a new pair and makes it current atomically; returns it parsed. */
  async update(certPem: string, keyPem: string, now = new Date()): Promise<CertificatePair> {
    const pair = pairOf(certPem, keyPem);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let file = join(this.dir, `${this.prefix}-${stamp(now)}.pem`);
    // Two rotations within a second (tests) must not overwrite the file the symlink names.
    for (let i = 1; (await readlink(this.currentPath).catch(() => '')) === basename(file); i++) file = join(this.dir, `${this.prefix}-${stamp(now)}-${i}.pem`);
    await writeFile(file, `${certPem.trimEnd()}\n${keyPem.trimEnd()}\n`, { mode: 0o600 });
    const updated = join(this.dir, `${this.prefix}-updated.pem`);
    await rm(updated, { force: true });
    await symlink(basename(file), updated);
    await rename(updated, this.currentPath);
    await this.prune(basename(file));
    return pair;
  }

  /** Removes old pair files beyond `keep`, never the current one. */
  private async prune(current: string): Promise<void> {
    const re = new RegExp(`^${this.prefix}-\\d{4}(-\\d{2}){5}(-\\d+)?\\.pem$`);
    const files = (await readdir(this.dir)).filter((f) => re.test(f) && f !== current).sort();
    for (const f of files.slice(0, Math.max(0, files.length - this.keep))) await rm(join(this.dir, f), { force: true });
  }
}
