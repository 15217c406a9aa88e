// The containerd (CRI v1) backend of the kubelet and the CRI server for the built-in runtime.
export { CriRuntime, normaliseEndpoint, type CriRuntimeOptions } from './runtime.js';
export { ManagedContainerd, containerdInstalled, containerdPaths, containerdConfigToml, DEFAULT_PAUSE_IMAGE, type ManagedContainerdOptions } from './managedContainerd.js';
export { connectContainerdRuntime, runtimeEndpointFile, writeRuntimeEndpointFile, readRuntimeEndpointFile, type ContainerdRuntime, type ContainerdRuntimeOptions } from './connect.js';
export { importImageArchive, archiveImageNames, type ImportImageOptions } from './importImage.js';
export { nodeConflist, writeNodeConflist, CONFLIST_FILE, type NodeConflistOptions } from './cniConflist.js';
export { writeBusyboxOciArchive, writePauseImageArchive, busyboxLayer, hostArchitecture, type BusyboxImageOptions } from './ociArchive.js';
export { serveCri, type CriServer, type ServeCriOptions } from './server.js';
export { serveCriOnDemand, type OnDemandCriServer } from './onDemandServer.js';
