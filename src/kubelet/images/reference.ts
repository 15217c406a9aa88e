// Image references as the distribution/reference grammar and docker's normalisation read them:
// `busybox` is `docker.io/library/busybox:latest`, whose registry host is `registry-1.docker.io`.

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const DOCKER_HUB_REGISTRY_HOST = 'registry-1.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_HEX = /^[a-f0-9]{64}$/;

export class ReferenceError extends Error {
  override readonly name = 'ReferenceError';
}

/** A parsed, normalised reference. `tag` is set to `latest` only when neither a tag nor a digest was given. */
export interface ImageReference {
  /** `docker.io`, `localhost:5000`, `127.0.0.1:5000`… */
  domain: string;
  /** `library/busybox`, `team/app`. */
  path: string;
  tag?: string;
  digest?: string;
}

/** `docker.io/library/busybox`. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** `docker.io/library/busybox:latest`, `localhost:5000/x@sha256:…`, `…:1@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host to talk to for a domain: Docker Hub's API lives on registry-1.docker.io. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : domain;
}

/** True for a bare image id: `sha256:<64 hex>` or `<64 hex>`. */
export function isImageId(s: string): boolean {
  return SHA256_HEX.test(s.startsWith('sha256:') ? s.slice(7) : s);
}

/**
 * Parses and normalises a reference the way docker and containerd do (ParseNormalizedNamed + TagNameOnly).
 * Throws ReferenceError with a message naming what is wrong.
 */
export function parseReference(input: string): ImageReference {
  const s = input.trim();
  if (s === '') throw new ReferenceError('invalid reference format: repository name must have at least one component');
  if (isImageId(s) && !s.includes('/')) {
    throw new ReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(`invalid reference format: bad digest "${digest}" in "${s}"`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(`invalid reference format: bad tag "${tag}" in "${s}"`);
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN.test(domain)) throw new ReferenceError(`invalid reference format: bad registry "${domain}" in "${s}"`);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw new ReferenceError(
        component.toLowerCase() !== component
          ? `invalid reference format: repository name (${path}) must be lowercase`
          : `invalid reference format: bad repository name "${path}" in "${s}"`,
      );
    }
  }
  if (`${domain}/${path}`.length > 255) throw new ReferenceError('invalid reference format: repository name must not be more than 255 characters');
  if (!tag && !digest) tag = DEFAULT_TAG;
  return { domain, path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** `busybox` → `docker.io/library/busybox:latest`; throws ReferenceError. */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}
