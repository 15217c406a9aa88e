// What the volume manager hands the kubelet: each pod volume's directory on the host, and the
// error type whose reason/message become the pod's FailedMount event.

/** One set-up volume of a pod. */
export interface PodVolume {
  /** The directory (or, for hostPath volumes of a file type, the file) containers bind-mount. */
  hostPath: string;
  /** Every container mount of it is read-only (configMap, secret, downwardAPI, projected, readOnly claims). */
  readOnly: boolean;
  /** The upstream plugin name, e.g. `kubernetes.io/configmap`. */
  plugin: string;
}

/** Pod volume name → its set-up volume. */
export type PodVolumes = ReadonlyMap<string, PodVolume>;

/**
 * A volume could not be set up. `reason` is the event reason (`FailedMount`); the message is
 * upstream's (`MountVolume.SetUp failed for volume "cfg" : configmap "x" not found`). The kubelet
 * records it as a Warning event, keeps the pod in ContainerCreating and retries.
 */
export class VolumeError extends Error {
  override readonly name = 'VolumeError';
  readonly reason = 'FailedMount';
  constructor(
    readonly volumeName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
