// Loads the vendored CRI v1 schema (proto/api.proto) once, for both the gRPC client and server.
// Messages are plain objects with camelCase fields, enums as their names, int64 as decimal strings.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Decoding options shared by client and server: what the wire objects in wire.ts look like. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

/** The .proto travels as a data file: next to the source when run from src, or found from dist via the repo root. */
export function criProtoPath(): string {
  const candidates = [
    new URL('./proto/api.proto', import.meta.url),
    new URL('../../../../../src/kubelet/runtime/cri/proto/api.proto', import.meta.url),
  ].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`CRI proto not found (looked at ${candidates.join(', ')})`);
  return found;
}

export interface CriServices {
  RuntimeService: grpc.ServiceClientConstructor;
  ImageService: grpc.ServiceClientConstructor;
}

let cached: CriServices | undefined;

/** The runtime.v1 RuntimeService and ImageService definitions (client constructors carry `.service` for servers). */
export function criServices(): CriServices {
  if (cached) return cached;
  const definition = protoLoader.loadSync(criProtoPath(), PROTO_LOADER_OPTIONS);
  const root = grpc.loadPackageDefinition(definition) as unknown as { runtime: { v1: CriServices } };
  cached = { RuntimeService: root.runtime.v1.RuntimeService, ImageService: root.runtime.v1.ImageService };
  return cached;
}
