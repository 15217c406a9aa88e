// ImageLocality: prefers nodes that already hold the pod's images, weighing each image by its size
// and by how few nodes have it (an image every node has does not make one node special).

import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ImageStateSummary, NodeInfo } from '../framework/nodeInfo.js';
import type { CycleState } from '../framework/cycleState.js';
import { MAX_NODE_SCORE, type FrameworkHandle, type PluginFactory, type ScorePlugin, type Status } from '../framework/types.js';

export const NAME = 'ImageLocality';

const MB = 1024 * 1024;
/** Below this much image data on the node the score is 0 (small images pull fast anyway). */
export const MIN_THRESHOLD = 23 * MB;
/** Per container, image data beyond this counts no more (the score saturates). */
export const MAX_CONTAINER_THRESHOLD = 1000 * MB;

/**
 * An image reference as a container runtime reports it: domain and repository made explicit
 * (`nginx` → `docker.io/library/nginx`), `:latest` added when there is neither tag nor digest.
 */
export function normalizedImageName(image: string): string {
  let rest = image;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at);
    rest = rest.slice(0, at);
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let domain = hasDomain ? first : 'docker.io';
  let path = hasDomain ? rest.slice(slash + 1) : rest;
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (!tag && !digest) tag = ':latest';
  return `${domain}/${path}${tag}${digest}`;
}

/** Upstream's own normalization: only `:latest` added, for nodes that report short names. */
function withLatestTag(image: string): string {
  return image.lastIndexOf(':') <= image.lastIndexOf('/') ? `${image}:latest` : image;
}

// Scoring asks for the same few image names once per node per pod: remember their normal forms.
const normalized = new Map<string, [string, string]>();

function names(image: string): [string, string] {
  let n = normalized.get(image);
  if (!n) {
    if (normalized.size > 10_000) normalized.clear();
    normalized.set(image, (n = [normalizedImageName(image), withLatestTag(image)]));
  }
  return n;
}

function imageState(nodeInfo: NodeInfo, image: string): ImageStateSummary | undefined {
  if (nodeInfo.imageStates.size === 0) return undefined;
  const [full, latest] = names(image);
  return nodeInfo.imageStates.get(full) ?? nodeInfo.imageStates.get(latest);
}

/** An image's size scaled by the share of nodes that have it. */
function scaledImageScore(state: ImageStateSummary, totalNumNodes: number): number {
  return Math.trunc(state.size * (state.numNodes / totalNumNodes));
}

/** The sum of the scaled sizes of the pod's images (init containers included) present on the node. */
export function sumImageScores(nodeInfo: NodeInfo, pod: Readonly<Pod>, totalNumNodes: number): number {
  if (totalNumNodes === 0) return 0;
  let sum = 0;
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    const state = c.image ? imageState(nodeInfo, c.image) : undefined;
    if (state) sum += scaledImageScore(state, totalNumNodes);
  }
  return sum;
}

/** Maps the summed image data to 0..100 between MIN_THRESHOLD and MAX_CONTAINER_THRESHOLD × containers. */
export function calculatePriority(sumScores: number, numContainers: number): number {
  const maxThreshold = MAX_CONTAINER_THRESHOLD * numContainers;
  const clamped = Math.min(Math.max(sumScores, MIN_THRESHOLD), maxThreshold);
  if (maxThreshold <= MIN_THRESHOLD) return 0;
  return Math.trunc((MAX_NODE_SCORE * (clamped - MIN_THRESHOLD)) / (maxThreshold - MIN_THRESHOLD));
}

class ImageLocalityPlugin implements ScorePlugin {
  readonly name = NAME;

  constructor(private readonly handle: FrameworkHandle) {}

  score(_state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status {
    const totalNumNodes = this.handle.snapshot().list().length;
    const numContainers = (pod.spec?.initContainers?.length ?? 0) + (pod.spec?.containers?.length ?? 0);
    return calculatePriority(sumImageScores(nodeInfo, pod, totalNumNodes), numContainers);
  }
}

export const ImageLocality: PluginFactory = {
  name: NAME,
  create: (_args, handle) => new ImageLocalityPlugin(handle),
};
