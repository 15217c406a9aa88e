// Test doubles for the process runtime's integration tests: a busybox image unpacked into a layer
// directory from the host's busybox-static, served by a minimal in-memory ImageStore; and the
// teardown every such test ends with.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync, copyFileSync, chmodSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ImageStore, LocalImage, OciImageConfig } from '../../../../src/kubelet/images/types.js';
import type { Image, ImageSpec } from '../../../../src/kubelet/runtime/types.js';
import type { ProcessRuntime } from '../../../../src/kubelet/runtime/process/runtime.js';

/** One layer: /bin/busybox + applet links, /etc/passwd with root and `app` (1000), /tmp. */
export function busyboxLayer(dir: string): string {
  const layer = join(dir, 'layer-busybox');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'home/app']) mkdirSync(join(layer, d), { recursive: true });
  chmodSync(join(layer, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(layer, 'bin/busybox'));
  chmodSync(join(layer, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(layer, 'bin', a));
  writeFileSync(join(layer, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
  writeFileSync(join(layer, 'etc/group'), 'root:x:0:\napp:x:1000:\nwheel:x:10:app\n');
  mkdirSync(join(layer, 'www'), { recursive: true });
  writeFileSync(join(layer, 'www/index.html'), 'hello from the pod\n');
  return layer;
}

/** A second layer on top, to prove overlay ordering (it overrides /www/index.html). */
export function overrideLayer(dir: string): string {
  const layer = join(dir, 'layer-override');
  mkdirSync(join(layer, 'www'), { recursive: true });
  writeFileSync(join(layer, 'www/index.html'), 'hello from layer 2\n');
  return layer;
}

export class MemoryImageStore implements ImageStore {
  readonly images: LocalImage[] = [];

  add(ref: string, layers: string[], config: OciImageConfig): LocalImage {
    const img: LocalImage = {
      id: `sha256:${randomBytes(32).toString('hex')}`,
      repoTags: [ref],
      repoDigests: [],
      size: 1,
      config,
      architecture: 'amd64',
      os: 'linux',
      layers,
    };
    this.images.push(img);
    return img;
  }

  async get(ref: string): Promise<LocalImage | undefined> {
    return this.images.find((i) => i.id === ref || i.repoTags.includes(ref));
  }
  async importArchive(): Promise<LocalImage[]> {
    throw new Error('not used by these tests');
  }
  async listImages(): Promise<Image[]> {
    return this.images.map((i) => ({ id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, size: BigInt(i.size), username: '', pinned: false }));
  }
  async imageStatus(spec: ImageSpec): Promise<Image | undefined> {
    return (await this.listImages()).find((i) => i.id === spec.image || i.repoTags.includes(spec.image));
  }
  async pullImage(spec: ImageSpec): Promise<string> {
    const img = await this.get(spec.image);
    if (!img) throw new Error(`no image ${spec.image}`);
    return img.id;
  }
  async removeImage(): Promise<void> {}
  async imageFsInfo() {
    return [];
  }
}

/**
 * Removes every sandbox, closes the runtime, then deletes the test's bridge and cgroups; returns the
 * network namespaces and mounts that were left behind (the caller asserts there are none, after
 * removing its folder). `afterClose` runs between closing the runtime and the host clean-up.
 */
export async function tearDownRuntime(
  rt: ProcessRuntime,
  o: { bridge: string; cgroupRoot: string; netnsPrefix: string; dir: string; afterClose?: () => Promise<void> },
): Promise<{ leftNetns: string[]; mounts: string[] }> {
  for (const s of await rt.listPodSandbox().catch(() => [])) await rt.removePodSandbox(s.id).catch((e) => console.error(e));
  await rt.close();
  await o.afterClose?.();
  try {
    execFileSync('ip', ['link', 'del', o.bridge], { stdio: 'ignore' });
  } catch {
    /* not created */
  }
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    const d = join('/sys/fs/cgroup', ctl, o.cgroupRoot);
    if (existsSync(d)) execFileSync('find', [d, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
  }
  return {
    leftNetns: readdirSync('/var/run/netns').filter((n) => n.startsWith(o.netnsPrefix)),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(o.dir)),
  };
}
