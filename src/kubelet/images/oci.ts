// The OCI image-spec and Docker schema2 documents the store reads, validated once at the boundary.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { arch } from 'node:os';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { OciImageConfig } from './types.js';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export const MANIFEST_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.dockerManifest];
export const INDEX_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList];

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The image config file (OCI `config.v1+json` / docker `container.image.v1+json`). */
export interface ImageConfigFile {
  architecture: string;
  os: string;
  variant?: string;
  config?: OciImageConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  created?: string;
}

export class ImageFormatError extends Error {
  override readonly name = 'ImageFormatError';
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(bytes: Buffer | string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString());
  } catch (err) {
    throw new ImageFormatError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(v)) throw new ImageFormatError(`${what} is not a JSON object`);
  return v;
}

function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new ImageFormatError(`${what}: descriptor is not an object`);
  if (typeof v.mediaType !== 'string') throw new ImageFormatError(`${what}: descriptor has no mediaType`);
  if (!isDigest(v.digest)) throw new ImageFormatError(`${what}: descriptor digest ${JSON.stringify(v.digest)} is not a sha256 digest`);
  if (typeof v.size !== 'number' || v.size < 0) throw new ImageFormatError(`${what}: descriptor has no valid size`);
  return v as unknown as Descriptor;
}

/** What kind of document a manifest-ish JSON is: by mediaType field, else by shape. */
export function documentKind(doc: Record<string, unknown>, contentType?: string): 'manifest' | 'index' | 'schema1' | 'unknown' {
  const mt = typeof doc.mediaType === 'string' ? doc.mediaType : contentType;
  if (mt && MANIFEST_TYPES.includes(mt)) return 'manifest';
  if (mt && INDEX_TYPES.includes(mt)) return 'index';
  if (doc.schemaVersion === 1 || mt === MediaType.dockerSchema1 || mt === MediaType.dockerSchema1Signed) return 'schema1';
  if (Array.isArray(doc.manifests)) return 'index';
  if (isObject(doc.config) && Array.isArray(doc.layers)) return 'manifest';
  return 'unknown';
}

export function parseManifest(bytes: Buffer | string, what = 'image manifest'): Manifest {
  const v = parseJson(bytes, what);
  if (v.schemaVersion !== 2) throw new ImageFormatError(`${what}: unsupported schemaVersion ${JSON.stringify(v.schemaVersion)}`);
  if (!Array.isArray(v.layers)) throw new ImageFormatError(`${what}: no layers`);
  return {
    ...(v as object),
    schemaVersion: 2,
    config: parseDescriptor(v.config, `${what} config`),
    layers: v.layers.map((l, i) => parseDescriptor(l, `${what} layer ${i}`)),
  } as Manifest;
}

export function parseIndex(bytes: Buffer | string, what = 'image index'): Index {
  const v = parseJson(bytes, what);
  if (!Array.isArray(v.manifests)) throw new ImageFormatError(`${what}: no manifests`);
  return { ...(v as object), schemaVersion: 2, manifests: v.manifests.map((m, i) => parseDescriptor(m, `${what} entry ${i}`)) } as Index;
}

export function parseImageConfig(bytes: Buffer | string, what = 'image config'): ImageConfigFile {
  const v = parseJson(bytes, what);
  const rootfs = v.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids) || !rootfs.diff_ids.every(isDigest)) {
    throw new ImageFormatError(`${what}: rootfs.diff_ids is missing or not a list of sha256 digests`);
  }
  return {
    ...(v as object),
    architecture: typeof v.architecture === 'string' ? v.architecture : '',
    os: typeof v.os === 'string' ? v.os : '',
    config: isObject(v.config) ? (v.config as OciImageConfig) : {},
    rootfs: { type: 'layers', diff_ids: rootfs.diff_ids as string[] },
  } as ImageConfigFile;
}

/** The host's platform in OCI words (Node's `x64` is `amd64`). */
export function hostPlatform(): Platform {
  const a = arch();
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: map[a] ?? a, ...(a === 'arm64' ? { variant: 'v8' } : {}) };
}

/** Picks the index entry for a platform as containerd's platform matcher does (os+arch, variant preferred). */
export function selectPlatform(index: Index, want: Platform = hostPlatform()): Descriptor | undefined {
  const candidates = index.manifests.filter(
    (m) => MANIFEST_TYPES.includes(m.mediaType) && m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture,
  );
  return candidates.find((m) => (m.platform?.variant ?? want.variant) === want.variant) ?? candidates[0];
}

/** The compression a layer blob really has, from its first bytes (media types lie in docker-archives). */
export async function sniffCompression(file: string): Promise<'gzip' | 'zstd' | 'none'> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

/** The uncompressed tar stream of a layer blob on disk. zstd layers are refused with a clear message. */
export async function openLayerTar(file: string, digest: string): Promise<Readable> {
  const c = await sniffCompression(file);
  if (c === 'zstd') {
    throw new ImageFormatError(`layer ${digest} is zstd-compressed, which k8ts cannot unpack yet: rebuild or copy the image with gzip layers (e.g. skopeo copy --dest-compress-format gzip)`);
  }
  const raw = createReadStream(file);
  if (c !== 'gzip') return raw;
  const gunzip = createGunzip();
  raw.once('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}
