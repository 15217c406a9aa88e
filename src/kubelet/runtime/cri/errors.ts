// gRPC status <-> RuntimeError, in both directions, so errors keep their meaning across the socket.
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { RuntimeError, type RuntimeErrorCode } from '../types.js';

const FROM_GRPC: Partial<Record<number, RuntimeErrorCode>> = {
  [GrpcStatus.NOT_FOUND]: 'NotFound',
  [GrpcStatus.ALREADY_EXISTS]: 'AlreadyExists',
  [GrpcStatus.INVALID_ARGUMENT]: 'InvalidArgument',
  [GrpcStatus.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [GrpcStatus.UNAVAILABLE]: 'Unavailable',
  [GrpcStatus.UNIMPLEMENTED]: 'Unimplemented',
};

const TO_GRPC: Record<RuntimeErrorCode, GrpcStatus> = {
  NotFound: GrpcStatus.NOT_FOUND,
  AlreadyExists: GrpcStatus.ALREADY_EXISTS,
  InvalidArgument: GrpcStatus.INVALID_ARGUMENT,
  ImagePullFailed: GrpcStatus.UNKNOWN,
  ImageNotFound: GrpcStatus.NOT_FOUND,
  RegistryUnavailable: GrpcStatus.UNAVAILABLE,
  CreateContainerFailed: GrpcStatus.UNKNOWN,
  StartContainerFailed: GrpcStatus.UNKNOWN,
  NetworkSetupFailed: GrpcStatus.UNKNOWN,
  DeadlineExceeded: GrpcStatus.DEADLINE_EXCEEDED,
  Unavailable: GrpcStatus.UNAVAILABLE,
  Unimplemented: GrpcStatus.UNIMPLEMENTED,
  Internal: GrpcStatus.INTERNAL,
};

/** Which CRI call failed decides the code for the runtime's generic UNKNOWN errors. */
export type CriCall =
  | 'PullImage'
  | 'CreateContainer'
  | 'StartContainer'
  | 'RunPodSandbox'
  | string;

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as ServiceError).code === 'number' && 'details' in err;
}

/**
 * Turns a gRPC failure of `call` into a RuntimeError. containerd answers most failures with UNKNOWN
 * and a message, so the call tells what kind of failure it was (a failed pull, a container that could
 * not be created, a sandbox whose network could not be set up…).
 */
export function runtimeErrorFromGrpc(call: CriCall, err: unknown): RuntimeError {
  if (!isServiceError(err)) return new RuntimeError('Internal', `${call}: ${String((err as Error)?.message ?? err)}`, { cause: err });
  const message = err.details || err.message;
  const mapped = FROM_GRPC[err.code];
  if (call === 'PullImage') {
    if (err.code === GrpcStatus.NOT_FOUND || /\bnot found\b/i.test(message)) return new RuntimeError('ImageNotFound', message, { cause: err });
    if (err.code === GrpcStatus.UNAVAILABLE && !/connect|socket/i.test(message)) return new RuntimeError('RegistryUnavailable', message, { cause: err });
    if (mapped !== 'Unavailable' && mapped !== 'DeadlineExceeded') return new RuntimeError('ImagePullFailed', message, { cause: err });
  }
  if (mapped) return new RuntimeError(mapped, message, { cause: err });
  if (call === 'CreateContainer') return new RuntimeError('CreateContainerFailed', message, { cause: err });
  if (call === 'StartContainer') return new RuntimeError('StartContainerFailed', message, { cause: err });
  if (call === 'RunPodSandbox' && /\bcni\b|network/i.test(message)) return new RuntimeError('NetworkSetupFailed', message, { cause: err });
  return new RuntimeError('Internal', message, { cause: err });
}

/** What the CRI server answers for an error thrown by the runtime it exposes. */
export function grpcStatusFromError(err: unknown): { code: GrpcStatus; details: string } {
  if (err instanceof RuntimeError) return { code: TO_GRPC[err.code], details: err.message };
  return { code: GrpcStatus.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}
