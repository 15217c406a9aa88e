// The built-in image store's contract: what the process runtime needs from an image, and what
// `k8ts images import|ls` and the registry puller provide. Backed by files under
// `<dataDir>/agent/images` so a separate `k8ts images import` process and a running kubelet share it.
import type { ImageService, Mount } from '../runtime/types.js';

/** The runnable parts of an OCI image config (`config` in application/vnd.oci.image.config.v1+json). */
export interface OciImageConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface LocalImage {
  /** `sha256:<digest of the config blob>`. */
  id: string;
  /** Normalised references, e.g. `docker.io/library/busybox:1.36`, `localhost/acc/busybox:1`. */
  repoTags: string[];
  /** `<repo>@sha256:<manifest digest>`. */
  repoDigests: string[];
  /** Sum of compressed layer sizes (what `crictl images` shows as SIZE). */
  size: number;
  config: OciImageConfig;
  architecture: string;
  os: string;
  /** Absolute paths of the unpacked layer directories, bottom layer first: overlayfs lowerdir is their reverse. */
  layers: string[];
  /** Host paths the image's root filesystem is made of besides its layers (the built-in image's read-only binds). */
  hostMounts?: Mount[];
}

export interface ImageStore extends ImageService {
  /** Looks a reference or an id up (`busybox` = `docker.io/library/busybox:latest`). */
  get(ref: string): Promise<LocalImage | undefined>;
  /** Imports every image in an OCI layout tar or a docker-archive tar (`docker save`); returns what it added or re-tagged. */
  importArchive(file: string): Promise<LocalImage[]>;
}
