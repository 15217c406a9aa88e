// `k8ts images import|ls|rm|pull`: the node's built-in image store from the command line, like
// `kind load image-archive` and `crictl images|rmi|pull`. Safe to run while the node's kubelet runs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isRuntimeError, type AuthConfig, type Image } from '../kubelet/runtime/types.js';
import { FileImageStore } from '../kubelet/images/store.js';
import { ImageFormatError } from '../kubelet/images/oci.js';
import { LayerError } from '../kubelet/images/unpack.js';
import { parseReference } from '../kubelet/images/reference.js';
import { defaultDataDir } from './paths.js';

/** Where a node keeps its built-in image store. */
export function imageStoreRoot(dataDir: string): string {
  return join(dataDir, 'agent', 'images');
}

/** Sizes as crictl prints them (go-units HumanSize: decimal units, 4 significant digits). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(4))}${units[i]}`;
}

/** The rows of `crictl images`: one per tag, `<none>` for untagged images. */
export function imageRows(images: Image[]): string[][] {
  const rows: string[][] = [];
  for (const img of images) {
    const short = img.id.replace(/^sha256:/, '').slice(0, 13);
    const size = humanSize(Number(img.size));
    if (img.repoTags.length === 0) {
      const repo = img.repoDigests[0]?.split('@')[0] ?? '<none>';
      rows.push([repo, '<none>', short, size]);
    }
    for (const tag of img.repoTags) {
      const i = tag.lastIndexOf(':');
      rows.push([tag.slice(0, i), tag.slice(i + 1), short, size]);
    }
  }
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return rows.sort((a, b) => cmp(a[0]!, b[0]!) || cmp(a[1]!, b[1]!));
}

/** Left-aligned columns separated by at least three spaces, as crictl's tabwriter prints them. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join('');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function fail(message: string): never {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
}

/** One line for a user: what failed and, where we know, what to do. */
function describe(err: unknown): string {
  if (isRuntimeError(err) || err instanceof ImageFormatError || err instanceof LayerError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES') return `${e.message}: run as root or pass --data-dir with a directory you can write`;
  throw err;
}

interface DataDirOption {
  dataDir: string;
}

/** The containerd socket of the node in `dataDir`, when its kubelet uses containerd (from `<dataDir>/agent/runtime-endpoint`). */
async function containerdSocketOf(dataDir: string): Promise<string | undefined> {
  const { readRuntimeEndpointFile } = await import('../kubelet/runtime/cri/connect.js');
  let endpoint = await readRuntimeEndpointFile(dataDir).catch(() => undefined);
  // A server whose node is still starting has not written its runtime endpoint yet: an import right
  // after `k8ts server` is ready must still land in the runtime the node will use, so wait for it.
  if (!endpoint && existsSync(join(dataDir, 'server'))) {
    process.stderr.write(`waiting for the node's container runtime (${join(dataDir, 'agent', 'runtime-endpoint')})…\n`);
    for (let i = 0; i < 600 && !endpoint; i++) {
      await new Promise((r) => setTimeout(r, 100));
      endpoint = await readRuntimeEndpointFile(dataDir).catch(() => undefined);
    }
  }
  if (!endpoint || endpoint.endsWith('k8ts-cri.sock')) return undefined;
  return endpoint.replace(/^unix:\/\//, '');
}

export function registerImagesCommand(program: Command): void {
  const images = program.command('images').description("the node's built-in image store (like kind load and crictl images)");
  const store = (opts: DataDirOption, extra: { insecureRegistries?: string[] } = {}) => new FileImageStore({ root: imageStoreRoot(opts.dataDir), ...extra });

  images
    .command('import')
    .description('import images from OCI layout or docker-archive tar files (docker save, skopeo copy … docker-archive:)')
    .argument('<files...>', 'archive files')
    .option('--data-dir <dir>', 'state directory of the node', defaultDataDir())
    .option('--base-name <name>', 'repository for OCI layouts whose ref names are bare tags (e.g. localhost/lab/busybox)')
    .action(async (files: string[], opts: DataDirOption & { baseName?: string }) => {
      // A node that runs containerd keeps its images there: import through ctr into CRI's namespace.
      const containerd = await containerdSocketOf(opts.dataDir);
      if (containerd) {
        const { importImageArchive } = await import('../kubelet/runtime/cri/importImage.js');
        for (const file of files) {
          try {
            const names = await importImageArchive(containerd, file, opts.baseName ? { baseName: opts.baseName } : {});
            for (const n of names) process.stdout.write(`imported ${n} (containerd)\n`);
          } catch (err) {
            fail(`importing ${file} into containerd: ${describe(err)}`);
          }
        }
        return;
      }
      const s = store(opts);
      for (const file of files) {
        try {
          const imported = await s.importArchive(file, opts.baseName ? { baseName: opts.baseName } : {});
          for (const img of imported) {
            const names = img.repoTags.length > 0 ? img.repoTags.join(', ') : '<untagged: give --base-name to name it>';
            process.stdout.write(`imported ${names} (${img.id})\n`);
          }
        } catch (err) {
          fail(`importing ${file}: ${describe(err)}`);
        }
      }
    });

  images
    .command('ls')
    .alias('list')
    .description('list images, like crictl images')
    .argument('[ref]', 'only this image')
    .option('--data-dir <dir>', 'state directory of the node', defaultDataDir())
    .option('-q, --quiet', 'only image ids', false)
    .option('--digests', 'show repo digests', false)
    .action(async (ref: string | undefined, opts: DataDirOption & { quiet: boolean; digests: boolean }) => {
      const containerd = await containerdSocketOf(opts.dataDir);
      let list: Image[];
      if (containerd) {
        const { CriRuntime } = await import('../kubelet/runtime/cri/runtime.js');
        const cri = new CriRuntime({ endpoint: `unix://${containerd}` });
        try {
          list = await cri.listImages(ref ? { image: { image: ref } } : undefined);
        } finally {
          await cri.close();
        }
      } else list = await store(opts).listImages(ref ? { image: { image: ref } } : undefined);
      if (opts.quiet) {
        process.stdout.write(list.map((i) => `${i.id}\n`).join(''));
        return;
      }
      if (opts.digests) {
        const digestOf = (img: Image) => img.repoDigests[0]?.split('@')[1]?.replace(/^sha256:/, '').slice(0, 13) ?? '<none>';
        const rows = imageRows(list).map((r) => {
          const img = list.find((i) => i.id.replace(/^sha256:/, '').startsWith(r[2]!))!;
          return [r[0]!, r[1]!, digestOf(img), r[2]!, r[3]!];
        });
        process.stdout.write(formatTable(['IMAGE', 'TAG', 'DIGEST', 'IMAGE ID', 'SIZE'], rows));
        return;
      }
      process.stdout.write(formatTable(['IMAGE', 'TAG', 'IMAGE ID', 'SIZE'], imageRows(list)));
    });

  images
    .command('rm')
    .alias('rmi')
    .description('remove images (every tag of each), like crictl rmi')
    .argument('<refs...>', 'references or image ids')
    .option('--data-dir <dir>', 'state directory of the node', defaultDataDir())
    .action(async (refs: string[], opts: DataDirOption) => {
      const s = store(opts);
      let missing = false;
      for (const ref of refs) {
        const img = await s.imageStatus({ image: ref });
        if (!img) {
          process.stderr.write(`Error: no such image ${ref}\n`);
          missing = true;
          continue;
        }
        await s.removeImage({ image: img.id });
        for (const name of img.repoTags.length > 0 ? img.repoTags : [img.id]) process.stdout.write(`Deleted: ${name}\n`);
      }
      if (missing) process.exit(1);
    });

  images
    .command('pull')
    .description('pull an image from its registry into the store, like crictl pull')
    .argument('<ref>', 'image reference, e.g. busybox or 127.0.0.1:5000/lab/app:1')
    .option('--data-dir <dir>', 'state directory of the node', defaultDataDir())
    .option('--creds <user:password>', 'registry credentials')
    .option('--insecure-registry <host>', 'a registry to reach over plain HTTP (repeatable; loopback always is)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (ref: string, opts: DataDirOption & { creds?: string; insecureRegistry: string[] }) => {
      try {
        parseReference(ref);
      } catch (err) {
        fail(`${(err as Error).message}`);
      }
      let auth: AuthConfig | undefined;
      if (opts.creds) {
        const i = opts.creds.indexOf(':');
        auth = i < 0 ? { username: opts.creds, password: '' } : { username: opts.creds.slice(0, i), password: opts.creds.slice(i + 1) };
      }
      try {
        const id = await store(opts, { insecureRegistries: opts.insecureRegistry }).pullImage({ image: ref }, auth);
        process.stdout.write(`Image is up to date for ${id}\n`);
      } catch (err) {
        fail(describe(err));
      }
    });
}
