// The host's default address, shared by `k8ts server` (what the `kubernetes` Endpoints advertise) and
// `k8ts agent` (the node's InternalIP) in a module of its own, so the agent does not load the server.
import { networkInterfaces } from 'node:os';

/** The host's first non-loopback IPv4 address; 127.0.0.1 when it has none. */
export function defaultAdvertiseAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
