// The built-in image `k8ts.io/k8ts:v<version>`: this k8ts installation as a container image that
// needs no pull. Its root filesystem is a small generated layer (mount points, the host's /bin-style
// symlinks, a `k8ts` launcher on PATH) plus read-only binds of the host files this installation
// runs from (/usr, /lib*, the Node binary, the install dir with dist/ and node_modules, /etc/ssl…),
// so `command: [k8ts, proxy, …]` in a pod runs this node's own CLI, like kubeadm's static pods but
// without an image registry. The process runtime adds the binds (LocalImage.hostMounts).
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthConfig, FilesystemUsage, Image, ImageFilter, ImageSpec, Mount, PodSandboxConfig } from '../runtime/types.js';
import { RuntimeError } from '../runtime/types.js';
import { isImageId, parseReference, repositoryName, ReferenceError } from './reference.js';
import type { ImageStore, LocalImage, OciImageConfig } from './types.js';

/** The repository of the built-in image; its tag is `v` + the package version (`k8ts.io/k8ts:v0.1.0`). */
export const BUILTIN_IMAGE_REPOSITORY = 'k8ts.io/k8ts';
/** Where the launcher lives inside the image; first on the image's PATH. */
export const BUILTIN_BIN_DIR = '/k8ts/bin';

/** Where this installation lives on the host. */
export interface K8tsInstall {
  /** The package root (package.json, bin/k8ts, dist/, node_modules). */
  dir: string;
  version: string;
  /** The Node.js binary that runs k8ts. */
  node: string;
}

/** The installation this code runs from (dist/src/kubelet/images/builtin.js is four levels below the root). */
export function currentInstall(): K8tsInstall {
  const dir = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
  let version = '0.0.0';
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'k8ts' && pkg.version) version = pkg.version;
  } catch {
    /* a bare dist/: keep 0.0.0 */
  }
  return { dir, version, node: process.execPath };
}

export function builtinImageReference(version: string): string {
  return `${BUILTIN_IMAGE_REPOSITORY}:v${version}`;
}

/** What a host path is, as far as building the image needs to know. */
export type PathKind = { kind: 'dir' | 'file' } | { kind: 'symlink'; target: string; resolved: string } | undefined;

export function probePath(p: string): PathKind {
  try {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return { kind: 'symlink', target: readlinkSync(p), resolved: realpathSync(p) };
    return { kind: st.isDirectory() ? 'dir' : 'file' };
  } catch {
    return undefined;
  }
}

/** Top-level host directories the image shares: on merged-/usr systems /bin, /lib… are symlinks into /usr. */
const ROOT_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/**
 * /etc entries a Node program and the network tools need: TLS roots, the alternatives that
 * /usr/sbin/iptables points through, users, name service and protocol tables, the loader cache.
 * /etc/hosts, /etc/hostname and /etc/resolv.conf are the pod's own (the runtime mounts them).
 */
const ETC_ENTRIES = [
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/pki',
  '/etc/alternatives',
  '/etc/passwd',
  '/etc/group',
  '/etc/nsswitch.conf',
  '/etc/protocols',
  '/etc/services',
  '/etc/ethertypes',
  '/etc/iproute2',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/gai.conf',
  '/etc/host.conf',
];

/** The generated layer's content: directories and symlinks to create, and the launcher script. */
export interface BuiltinRootfsPlan {
  dirs: string[];
  symlinks: { path: string; target: string }[];
  launcher: string;
  mounts: Mount[];
}

/**
 * Plans the image (pure over `probe`): symlinked root dirs are recreated as symlinks, real ones and
 * the /etc entries are bound read-only, and the installation is bound at its real path and at the
 * path it was started from, with a symlinked node_modules bound where it points.
 */
export function planBuiltinRootfs(install: K8tsInstall, probe: (p: string) => PathKind = probePath): BuiltinRootfsPlan {
  const mounts: Mount[] = [];
  const symlinks: { path: string; target: string }[] = [];
  const bound: string[] = [];
  const covered = (p: string) => bound.some((b) => p === b || p.startsWith(`${b}/`));
  const bind = (hostPath: string, containerPath = hostPath) => {
    if (covered(containerPath) && hostPath === containerPath) return;
    mounts.push({ containerPath, hostPath, readonly: true });
    bound.push(containerPath);
  };
  for (const d of ROOT_DIRS) {
    const k = probe(d);
    if (!k) continue;
    if (k.kind === 'symlink') symlinks.push({ path: d, target: k.target });
    else if (k.kind === 'dir') bind(d);
  }
  for (const e of ETC_ENTRIES) {
    const k = probe(e);
    if (!k) continue;
    // A symlinked entry (/etc/localtime → /usr/share/zoneinfo/…) is bound as what it points at.
    if (k.kind === 'symlink') bind(k.resolved, e);
    else bind(e);
  }
  const real = (p: string) => {
    const k = probe(p);
    return k?.kind === 'symlink' ? k.resolved : p;
  };
  const installReal = real(install.dir);
  bind(installReal);
  if (installReal !== install.dir) bind(installReal, install.dir);
  const modules = probe(join(install.dir, 'node_modules'));
  if (modules?.kind === 'symlink') bind(modules.resolved);
  const node = real(install.node);
  if (!covered(node)) bind(node);
  const dirs = ['/etc', '/tmp', '/var/tmp', '/var/run', '/run', '/root', '/proc', '/sys', '/dev', BUILTIN_BIN_DIR];
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const launcher = `#!/bin/sh\n# k8ts ${install.version} from ${install.dir}\nexec ${quote(node)} ${quote(join(install.dir, 'bin', 'k8ts'))} "$@"\n`;
  return { dirs, symlinks, launcher, mounts };
}

/** The image config: `k8ts` is the entrypoint (pod `command` replaces it, `args` alone go to it). */
export function builtinImageConfig(install: K8tsInstall): OciImageConfig {
  return {
    Env: [`PATH=${BUILTIN_BIN_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, `K8TS_VERSION=${install.version}`],
    Entrypoint: ['k8ts'],
    Cmd: ['--help'],
    WorkingDir: '/',
    Labels: { 'org.opencontainers.image.title': 'k8ts', 'org.opencontainers.image.version': install.version, 'io.k8ts.builtin': 'true' },
  };
}

/** `sha256:` over everything that makes the image: a moved or upgraded installation is a new image. */
export function builtinImageId(install: K8tsInstall, plan: BuiltinRootfsPlan): string {
  const h = createHash('sha256').update(JSON.stringify({ config: builtinImageConfig(install), plan }));
  return `sha256:${h.digest('hex')}`;
}

/** Whether `ref` names the built-in image repository (any tag). */
export function isBuiltinRepository(ref: string): boolean {
  try {
    return repositoryName(parseReference(ref)) === BUILTIN_IMAGE_REPOSITORY;
  } catch (err) {
    if (err instanceof ReferenceError) return false;
    throw err;
  }
}

export interface BuiltinImageStoreOptions {
  /** Where the generated layer is written (`<dataDir>/agent/images/builtin`). */
  root: string;
  install?: K8tsInstall;
  probe?: (p: string) => PathKind;
}

/**
 * An ImageStore that serves the built-in image itself and everything else from `inner`.
 * The built-in image is pinned (image GC keeps it) and cannot be removed.
 */
export class BuiltinImageStore implements ImageStore {
  readonly install: K8tsInstall;
  readonly reference: string;
  readonly id: string;
  private readonly plan: BuiltinRootfsPlan;
  private readonly rootfs: string;
  private prepared?: Promise<void>;

  constructor(
    private readonly inner: ImageStore,
    opts: BuiltinImageStoreOptions,
  ) {
    this.install = opts.install ?? currentInstall();
    this.plan = planBuiltinRootfs(this.install, opts.probe);
    this.reference = builtinImageReference(this.install.version);
    this.id = builtinImageId(this.install, this.plan);
    this.rootfs = join(opts.root, this.id.slice('sha256:'.length, 'sha256:'.length + 16), 'rootfs');
  }

  private matches(ref: string): boolean {
    if (ref === this.id) return true;
    if (isImageId(ref) || !isBuiltinRepository(ref)) return false;
    const tag = parseReference(ref).tag;
    return tag === `v${this.install.version}` || tag === this.install.version;
  }

  /** A built-in reference with another version is an error users can act on, not a pull from k8ts.io. */
  private wrongVersion(ref: string): RuntimeError | undefined {
    if (isImageId(ref) || !isBuiltinRepository(ref) || this.matches(ref)) return undefined;
    return new RuntimeError('ImageNotFound', `${ref} is not this node's built-in image: this node runs k8ts ${this.install.version}, whose image is ${this.reference}`);
  }

  /** Writes the generated layer once (temp dir + rename, so a crash leaves no half layer). */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      if (existsSync(join(this.rootfs, BUILTIN_BIN_DIR.slice(1), 'k8ts'))) return;
      const tmp = `${this.rootfs}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      for (const d of this.plan.dirs) await mkdir(join(tmp, d), { recursive: true });
      for (const m of this.plan.mounts) {
        // Mount points exist in the layer, so the runtime never has to create them in a read-only parent.
        const at = join(tmp, m.containerPath);
        if (probePath(m.hostPath)?.kind === 'dir') await mkdir(at, { recursive: true });
        else {
          await mkdir(dirname(at), { recursive: true });
          await writeFile(at, '');
        }
      }
      for (const s of this.plan.symlinks) await symlink(s.target, join(tmp, s.path));
      const launcher = join(tmp, BUILTIN_BIN_DIR.slice(1), 'k8ts');
      await writeFile(launcher, this.plan.launcher);
      await chmod(launcher, 0o755);
      await chmod(join(tmp, 'tmp'), 0o1777);
      await mkdir(dirname(this.rootfs), { recursive: true });
      await rename(tmp, this.rootfs).catch(async (err: NodeJS.ErrnoException) => {
        // Another process prepared it first.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
        await rm(tmp, { recursive: true, force: true });
      });
    })();
    this.prepared.catch(() => (this.prepared = undefined));
    return this.prepared;
  }

  private criImage(): Image {
    return { id: this.id, repoTags: [this.reference], repoDigests: [], size: 0n, uid: 0, username: '', spec: { image: this.id }, pinned: true };
  }

  async get(ref: string): Promise<LocalImage | undefined> {
    if (!this.matches(ref)) return this.inner.get(ref);
    await this.prepare();
    return {
      id: this.id,
      repoTags: [this.reference],
      repoDigests: [],
      size: 0,
      config: builtinImageConfig(this.install),
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      layers: [this.rootfs],
      hostMounts: this.plan.mounts.map((m) => ({ ...m })),
    };
  }

  async listImages(filter?: ImageFilter): Promise<Image[]> {
    const want = filter?.image?.image;
    if (want && this.matches(want)) return [this.criImage()];
    const rest = await this.inner.listImages(filter);
    return want ? rest : [this.criImage(), ...rest];
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    if (this.matches(image.image)) return this.criImage();
    if (this.wrongVersion(image.image)) return undefined;
    return this.inner.imageStatus(image);
  }

  async pullImage(image: ImageSpec, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string> {
    if (this.matches(image.image)) {
      await this.prepare();
      return this.id;
    }
    const wrong = this.wrongVersion(image.image);
    if (wrong) throw wrong;
    return this.inner.pullImage(image, auth, sandboxConfig);
  }

  async removeImage(image: ImageSpec): Promise<void> {
    if (this.matches(image.image)) return; // pinned: part of the installation
    return this.inner.removeImage(image);
  }

  imageFsInfo(): Promise<FilesystemUsage[]> {
    return this.inner.imageFsInfo();
  }

  importArchive(file: string): Promise<LocalImage[]> {
    return this.inner.importArchive(file);
  }
}
