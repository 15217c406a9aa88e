// The kubelet's volumes: the VolumeManager (set up, resync, tear down a pod's volumes), the CRI
// mounts of a container, and the pieces they are built from.
export { VolumeManager, PLUGINS, pluginDirName, emptyDirMemorySize, podMemoryLimit, type VolumeManagerOptions } from './manager.js';
export { containerMounts, expandSubPathExpr, ContainerMountError, type ContainerMountsExtra } from './containerMounts.js';
export { VolumeError, type PodVolume, type PodVolumes } from './types.js';
export { ServiceAccountTokenManager, requiresRefresh, TokenFetchError, type TokenRequestKey, type TokenManagerOptions } from './tokenManager.js';
export { writeAtomically, validatePayloadPath, DATA_DIR_NAME, type FileProjection, type Payload, type WriteOptions } from './atomicWriter.js';
export { checkHostPathType, HostPathTypeError, HOST_PATH_TYPES, type HostPathType } from './hostPath.js';
export { setVolumeOwnership } from './ownership.js';
export type { NodeAllocatable } from './payload.js';
