// Image garbage collection by disk thresholds (pkg/kubelet/images/image_gc_manager.go): when the
// image filesystem is fuller than --image-gc-high-threshold (85%), unused images are removed, least
// recently used first, until usage is under --image-gc-low-threshold (80%). Images in use by any
// container, pinned images and images younger than --image-minimum-gc-age (2 min) are kept.
import type { Image } from './runtime/types.js';

export interface ImageGCPolicy {
  highThresholdPercent: number;
  lowThresholdPercent: number;
  minAgeMs: number;
}

export const DEFAULT_IMAGE_GC_POLICY: ImageGCPolicy = { highThresholdPercent: 85, lowThresholdPercent: 80, minAgeMs: 2 * 60_000 };

export interface ImageRecord {
  image: Image;
  /** When the kubelet first saw the image. */
  firstSeenMs: number;
  /** When a container last used it (0 = never). */
  lastUsedMs: number;
}

/** Which images to remove to bring `usedBytes` of `capacityBytes` under the low threshold (empty when under the high one). Pure. */
export function imagesToCollect(records: readonly ImageRecord[], inUse: ReadonlySet<string>, usedBytes: number, capacityBytes: number, nowMs: number, policy: ImageGCPolicy = DEFAULT_IMAGE_GC_POLICY): Image[] {
  if (capacityBytes <= 0) return [];
  const usage = (usedBytes * 100) / capacityBytes;
  if (usage < policy.highThresholdPercent) return [];
  let toFree = usedBytes - (capacityBytes * policy.lowThresholdPercent) / 100;
  const candidates = records
    .filter((r) => !r.image.pinned && !inUse.has(r.image.id) && nowMs - r.firstSeenMs >= policy.minAgeMs)
    .sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.firstSeenMs - b.firstSeenMs);
  const out: Image[] = [];
  for (const c of candidates) {
    if (toFree <= 0) break;
    out.push(c.image);
    toFree -= Number(c.image.size);
  }
  return out;
}

/** Tracks first-seen and last-used times of the node's images and runs the policy. */
export class ImageGCManager {
  private readonly records = new Map<string, ImageRecord>();

  constructor(
    private readonly policy: ImageGCPolicy = DEFAULT_IMAGE_GC_POLICY,
    private readonly now: () => number = Date.now,
  ) {}

  /** Refreshes the image list and the images containers use now. */
  observe(images: readonly Image[], inUse: ReadonlySet<string>): void {
    const t = this.now();
    const seen = new Set<string>();
    for (const image of images) {
      seen.add(image.id);
      const r = this.records.get(image.id);
      if (r) r.image = image;
      else this.records.set(image.id, { image, firstSeenMs: t, lastUsedMs: 0 });
      if (inUse.has(image.id)) this.records.get(image.id)!.lastUsedMs = t;
    }
    for (const id of [...this.records.keys()]) if (!seen.has(id)) this.records.delete(id);
  }

  plan(inUse: ReadonlySet<string>, usedBytes: number, capacityBytes: number): Image[] {
    return imagesToCollect([...this.records.values()], inUse, usedBytes, capacityBytes, this.now(), this.policy);
  }
}
