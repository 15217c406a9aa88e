// The process runtime's CRI socket, served on demand: the node listens on it at once, but gRPC, the
// CRI schema and the streaming server load with the first connection (`k8ts crictl`), so an idle
// kubelet does not carry them (they are about a sixth of its memory).
import { createServer, type Socket } from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { logger } from '../../../util/log.js';
import type { ContainerRuntime } from '../types.js';
import type { CriConnectionHandler, CriServer, ServeCriOptions } from './server.js';

const log = logger('cri-server');

export interface OnDemandCriServer extends CriServer {
  /** Whether a connection came and the gRPC server is loaded. */
  readonly loaded: boolean;
}

/** Like serveCri, on `socketPath`, with the gRPC side loaded when the first client connects. */
export async function serveCriOnDemand(runtime: ContainerRuntime, socketPath: string, opts: ServeCriOptions = {}): Promise<OnDemandCriServer> {
  let handler: Promise<CriConnectionHandler> | undefined;
  let loaded = false;
  const accept = (socket: Socket): void => {
    // Nothing reads the client's first bytes before the HTTP/2 session takes the socket over.
    socket.pause();
    handler ??= import('./server.js').then((m) => m.criConnectionHandler(runtime, opts));
    handler.then(
      (h) => {
        loaded = true;
        h.inject(socket);
      },
      (err: unknown) => {
        log.warn({ err: (err as Error).message }, 'starting the CRI server failed; the next connection tries again');
        handler = undefined;
        socket.destroy();
      },
    );
  };
  const server = createServer(accept);
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log.info({ socket: socketPath }, 'serving CRI');
  return {
    endpoint: `unix://${socketPath}`,
    socketPath,
    get loaded() {
      return loaded;
    },
    async close() {
      // net.Server.close unlinks the socket file.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await (await handler?.catch(() => undefined))?.close();
      await closed;
    },
  };
}
