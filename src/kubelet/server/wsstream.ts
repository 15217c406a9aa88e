// Kubernetes' WebSocket channel protocol (k8s.io/apimachinery util/httpstream/wsstream): every message
// carries one channel's data, prefixed by the channel number — a byte for the binary protocols
// (`channel.k8s.io`, `v2`…`v5.channel.k8s.io`), an ASCII digit with base64 data in text messages for
// the base64 ones. `v5.channel.k8s.io` adds the close signal: a message [255, channel] half-closes a channel.
import { PassThrough, Writable, type Readable } from 'node:stream';
import type { WebSocket } from 'ws';

/** The close-signal marker of v5 (remotecommand.StreamClose). */
export const STREAM_CLOSE = 255;

export interface ChannelProtocol {
  /** The subprotocol name as negotiated (`''` = the client offered none: plain `channel.k8s.io`). */
  name: string;
  base64: boolean;
  /** Remotecommand protocol version: 1 (`channel.k8s.io`), 2, 3 (resize), 4 (status JSON), 5 (close signal). */
  version: number;
}

const PROTOCOLS: Record<string, ChannelProtocol> = {
  'v5.channel.k8s.io': { name: 'v5.channel.k8s.io', base64: false, version: 5 },
  'v4.channel.k8s.io': { name: 'v4.channel.k8s.io', base64: false, version: 4 },
  'v4.base64.channel.k8s.io': { name: 'v4.base64.channel.k8s.io', base64: true, version: 4 },
  'v3.channel.k8s.io': { name: 'v3.channel.k8s.io', base64: false, version: 3 },
  'v2.channel.k8s.io': { name: 'v2.channel.k8s.io', base64: false, version: 2 },
  'channel.k8s.io': { name: 'channel.k8s.io', base64: false, version: 1 },
  'base64.channel.k8s.io': { name: 'base64.channel.k8s.io', base64: true, version: 1 },
};

/** Subprotocols the kubelet accepts for remotecommand over WebSocket. */
export const REMOTECOMMAND_WS_PROTOCOLS = Object.keys(PROTOCOLS);
/** Subprotocols for port-forward over the channel protocol (no version semantics beyond framing). */
export const PORTFORWARD_WS_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

/** Picks the client's first offered subprotocol that `supported` has (upstream's order); '' when the client offered none. */
export function negotiateSubprotocol(offered: readonly string[], supported: readonly string[]): string | undefined {
  if (offered.length === 0) return '';
  return offered.find((p) => supported.includes(p));
}

export function channelProtocol(name: string): ChannelProtocol {
  return PROTOCOLS[name] ?? PROTOCOLS['channel.k8s.io']!;
}

/** Encodes one channel message as the protocol frames it. */
export function encodeChannelMessage(protocol: ChannelProtocol, channel: number, data: Buffer): Buffer | string {
  if (protocol.base64) return String.fromCharCode(0x30 + channel) + data.toString('base64');
  return Buffer.concat([Buffer.from([channel]), data]);
}

export type ChannelMessage = { kind: 'data'; channel: number; data: Buffer } | { kind: 'close'; channel: number };

/** Decodes one received message; undefined for an empty message (ignored, as upstream). */
export function decodeChannelMessage(protocol: ChannelProtocol, message: Buffer, isBinary: boolean): ChannelMessage | undefined {
  if (message.length === 0) return undefined;
  if (protocol.version >= 5 && isBinary && message[0] === STREAM_CLOSE) {
    if (message.length !== 2) throw new Error(`stream close signal must be 2 bytes, got ${message.length}`);
    return { kind: 'close', channel: message[1]! };
  }
  if (protocol.base64) {
    return { kind: 'data', channel: message[0]! - 0x30, data: Buffer.from(message.subarray(1).toString('latin1'), 'base64') };
  }
  return { kind: 'data', channel: message[0]!, data: message.subarray(1) };
}

/**
 * A WebSocket carrying numbered channels. `readable(ch)` gives what the client sends on a channel,
 * `writable(ch)` sends on one (back-pressure from the socket). Closing the WebSocket ends every readable.
 */
export class ChannelConnection {
  private readonly readers = new Map<number, PassThrough>();
  private readonly onClosed: Promise<void>;
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly protocol: ChannelProtocol,
    private readonly onUnknown?: (msg: ChannelMessage) => void,
  ) {
    this.onClosed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      let msg: ChannelMessage | undefined;
      try {
        msg = decodeChannelMessage(protocol, buf, isBinary);
      } catch {
        ws.close(1002, 'bad stream close signal');
        return;
      }
      if (!msg) return;
      const reader = this.readers.get(msg.channel);
      if (!reader) {
        this.onUnknown?.(msg);
        return;
      }
      if (msg.kind === 'close') reader.end();
      else if (!reader.writableEnded && !reader.write(msg.data)) {
        ws.pause();
        reader.once('drain', () => ws.resume());
      }
    });
    ws.once('close', () => {
      this.closed = true;
      for (const r of this.readers.values()) if (!r.writableEnded) r.end();
    });
    ws.on('error', () => undefined);
  }

  /** Resolves when the WebSocket closed (either side). */
  get done(): Promise<void> {
    return this.onClosed;
  }

  readable(channel: number): Readable {
    let r = this.readers.get(channel);
    if (!r) {
      r = new PassThrough();
      this.readers.set(channel, r);
      if (this.closed) r.end();
    }
    return r;
  }

  writable(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => this.send(channel, chunk, cb),
    });
  }

  send(channel: number, data: Buffer, cb?: (err?: Error | null) => void): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) {
      cb?.();
      return;
    }
    this.ws.send(encodeChannelMessage(this.protocol, channel, data), { binary: !this.protocol.base64 }, (err) => cb?.(err ?? null));
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }
}
