import assert from 'node:assert/strict';
import { createDeflate, createInflate, constants as zc, inflateSync } from 'node:zlib';
import { PassThrough, Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import {
  FLAG_FIN,
  FrameParser,
  FrameType,
  HeaderCompressor,
  HeaderDecompressor,
  SPDY3_DICTIONARY,
  SpdySession,
  decodeHeaderBlock,
  encodeControlFrame,
  encodeDataFrame,
  encodeHeaderBlock,
  type RawFrame,
} from '../../../../src/kubelet/server/spdy.js';
import { channelProtocol, decodeChannelMessage, encodeChannelMessage, negotiateSubprotocol, REMOTECOMMAND_WS_PROTOCOLS } from '../../../../src/kubelet/server/wsstream.js';
import { encodeStatus, nonZeroExitStatus, parseStreamRequest, successStatus } from '../../../../src/kubelet/server/remotecommand.js';
import { parsePortsQuery } from '../../../../src/kubelet/server/portforward.js';

describe('SPDY/3 framing', () => {
  it('has the 1423-byte SPDY/3 dictionary', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1'), '\0\0\0\x07options');
    assert.ok(SPDY3_DICTIONARY.toString('latin1').endsWith('enq=0.'));
  });

  it('round-trips control and data frames, split anywhere in the byte stream', () => {
    const frames = [
      encodeControlFrame(FrameType.PING, 0, Buffer.from([0, 0, 0, 1])),
      encodeDataFrame(3, FLAG_FIN, Buffer.from('hello')),
      encodeControlFrame(FrameType.RST_STREAM, 0, Buffer.from([0, 0, 0, 3, 0, 0, 0, 5])),
      encodeDataFrame(5, 0, Buffer.alloc(0)),
    ];
    const wire = Buffer.concat(frames);
    for (const cut of [1, 7, 8, 13, wire.length - 1]) {
      const p = new FrameParser();
      const got: RawFrame[] = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
      assert.equal(got.length, 4);
      assert.deepEqual(got[0], { control: true, version: 3, type: FrameType.PING, flags: 0, payload: Buffer.from([0, 0, 0, 1]) });
      assert.deepEqual(got[1], { control: false, streamId: 3, flags: FLAG_FIN, data: Buffer.from('hello') });
      assert.equal((got[2] as { type: number }).type, FrameType.RST_STREAM);
      assert.deepEqual(got[3], { control: false, streamId: 5, flags: 0, data: Buffer.alloc(0) });
    }
  });

  it('encodes the name/value block with 32-bit lengths and NUL-joined values', () => {
    const block = encodeHeaderBlock(new Map([['streamtype', ['error']], ['x', ['a', 'b']]]));
    assert.deepEqual(block.subarray(0, 4), Buffer.from([0, 0, 0, 2]));
    const back = decodeHeaderBlock(block);
    assert.deepEqual([...back], [['streamtype', ['error']], ['x', ['a', 'b']]]);
    assert.throws(() => decodeHeaderBlock(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0x41])), /truncated/);
  });

  it('compresses header blocks as one zlib stream with the dictionary, readable by a plain inflater', async () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    try {
      const h1 = new Map([['streamtype', ['stdout']], ['port', ['8080']]]);
      const h2 = new Map([['streamtype', ['stderr']]]);
      const b1 = await c.compress(h1);
      const b2 = await c.compress(h2);
      // The second block depends on the first: the context spans the connection.
      assert.deepEqual([...(await d.decompress(b1))], [...h1]);
      assert.deepEqual([...(await d.decompress(b2))], [...h2]);
      // Interop: the first block alone is a zlib stream that needs exactly the SPDY dictionary.
      assert.throws(() => inflateSync(b1, { finishFlush: zc.Z_SYNC_FLUSH }));
      assert.deepEqual(decodeHeaderBlock(inflateSync(b1, { dictionary: SPDY3_DICTIONARY, finishFlush: zc.Z_SYNC_FLUSH })), h1);
    } finally {
      c.close();
      d.close();
    }
  });

  it('serves a client: replies to SYN_STREAM, delivers DATA, echoes PING, sends FIN on end', async () => {
    // A socket pair: what the "client" writes, the session reads, and vice versa.
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const serverSide = Duplex.from({ readable: toServer, writable: toClient });
    const session = new SpdySession(serverSide);
    const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
    const inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
    const zrun = (z: typeof deflate | typeof inflate, input: Buffer) =>
      new Promise<Buffer>((resolve) => {
        z.write(input);
        z.flush(zc.Z_SYNC_FLUSH, () => {
          const chunks: Buffer[] = [];
          for (let c = z.read() as Buffer | null; c; c = z.read() as Buffer | null) chunks.push(c);
          resolve(Buffer.concat(chunks));
        });
      });
    const streams: { type: string | undefined; data: string; ended: boolean }[] = [];
    session.on('stream', (s) => {
      const rec = { type: s.header('streamtype'), data: '', ended: false };
      streams.push(rec);
      s.on('data', (d: Buffer) => (rec.data += d.toString()));
      s.on('end', () => {
        rec.ended = true;
        s.end(Buffer.from('bye'));
      });
    });
    const received: RawFrame[] = [];
    const parser = new FrameParser();
    toClient.on('data', (c: Buffer) => received.push(...parser.push(c)));

    const syn = Buffer.alloc(10);
    syn.writeUInt32BE(1, 0);
    const headers = await zrun(deflate, encodeHeaderBlock(new Map([['streamtype', ['stdin']]])));
    toServer.write(encodeControlFrame(FrameType.SYN_STREAM, 0, Buffer.concat([syn, headers])));
    toServer.write(encodeDataFrame(1, 0, Buffer.from('abc')));
    toServer.write(encodeControlFrame(FrameType.PING, 0, Buffer.from([0, 0, 0, 7])));
    toServer.write(encodeDataFrame(1, FLAG_FIN, Buffer.from('def')));
    for (let i = 0; i < 50 && received.length < 4; i++) await new Promise((r) => setTimeout(r, 10));

    assert.deepEqual(streams, [{ type: 'stdin', data: 'abcdef', ended: true }]);
    const reply = received.find((f) => f.control && f.type === FrameType.SYN_REPLY) as Extract<RawFrame, { control: true }>;
    assert.equal(reply.payload.readUInt32BE(0), 1);
    assert.deepEqual([...decodeHeaderBlock(await zrun(inflate, reply.payload.subarray(4)))], []);
    assert.ok(received.some((f) => f.control && f.type === FrameType.PING && f.payload.readUInt32BE(0) === 7));
    const data = received.filter((f): f is Extract<RawFrame, { control: false }> => !f.control);
    assert.equal(Buffer.concat(data.map((f) => f.data)).toString(), 'bye');
    assert.equal(data.at(-1)!.flags & FLAG_FIN, FLAG_FIN);
    // The reply precedes the stream's data.
    assert.ok(received.indexOf(reply) < received.indexOf(data[0]!));
    session.destroy();
    deflate.destroy();
    inflate.destroy();
  });
});

describe('SPDY back-pressure', () => {
  it('stops reading the connection while a stream reader lags, and resumes when it catches up', async () => {
    const toServer = new PassThrough();
    const toClient = new PassThrough().resume();
    const serverSide = Duplex.from({ readable: toServer, writable: toClient });
    const session = new SpdySession(serverSide);
    const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
    const headers = await new Promise<Buffer>((resolve) => {
      deflate.write(encodeHeaderBlock(new Map([['streamtype', ['data']]])));
      deflate.flush(zc.Z_SYNC_FLUSH, () => resolve(deflate.read() as Buffer));
    });
    let stream: import('../../../../src/kubelet/server/spdy.js').SpdyStream | undefined;
    session.on('stream', (s) => (stream = s));
    const syn = Buffer.alloc(10);
    syn.writeUInt32BE(1, 0);
    toServer.write(encodeControlFrame(FrameType.SYN_STREAM, 0, Buffer.concat([syn, headers])));
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    for (let i = 0; i < 16; i++) toServer.write(encodeDataFrame(1, 0, chunk));
    toServer.write(encodeDataFrame(1, FLAG_FIN, Buffer.alloc(0)));
    for (let i = 0; i < 50 && !serverSide.isPaused(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(stream, 'the stream was opened');
    assert.ok(serverSide.isPaused(), 'reading paused while nobody reads the stream');
    let total = 0;
    stream!.on('data', (d: Buffer) => (total += d.length));
    await new Promise((r) => stream!.once('end', r));
    assert.equal(total, 16 * chunk.length);
    session.destroy();
    deflate.destroy();
  });
});

describe('WebSocket channel protocol', () => {
  it('negotiates the client’s first supported subprotocol, and the legacy one when none is offered', () => {
    assert.equal(negotiateSubprotocol(['v5.channel.k8s.io', 'v4.channel.k8s.io'], REMOTECOMMAND_WS_PROTOCOLS), 'v5.channel.k8s.io');
    assert.equal(negotiateSubprotocol(['v9.channel.k8s.io', 'v4.channel.k8s.io'], REMOTECOMMAND_WS_PROTOCOLS), 'v4.channel.k8s.io');
    assert.equal(negotiateSubprotocol([], REMOTECOMMAND_WS_PROTOCOLS), '');
    assert.equal(negotiateSubprotocol(['nope'], REMOTECOMMAND_WS_PROTOCOLS), undefined);
  });

  const cases: { name: string; protocol: string; channel: number; data: string; wire: Buffer | string }[] = [
    { name: 'binary: a channel byte then the data', protocol: 'v4.channel.k8s.io', channel: 1, data: 'hi', wire: Buffer.from([1, 0x68, 0x69]) },
    { name: 'base64: an ASCII digit then base64', protocol: 'base64.channel.k8s.io', channel: 2, data: 'hi', wire: '2aGk=' },
    { name: 'v4 base64 the same', protocol: 'v4.base64.channel.k8s.io', channel: 3, data: '{}', wire: '3e30=' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = channelProtocol(c.protocol);
      const wire = encodeChannelMessage(p, c.channel, Buffer.from(c.data));
      assert.deepEqual(wire, c.wire);
      const back = decodeChannelMessage(p, Buffer.isBuffer(wire) ? wire : Buffer.from(wire), Buffer.isBuffer(wire));
      assert.deepEqual(back, { kind: 'data', channel: c.channel, data: Buffer.from(c.data) });
    });
  }

  it('v5 understands the close signal; older versions treat 255 as a channel', () => {
    assert.deepEqual(decodeChannelMessage(channelProtocol('v5.channel.k8s.io'), Buffer.from([255, 0]), true), { kind: 'close', channel: 0 });
    assert.throws(() => decodeChannelMessage(channelProtocol('v5.channel.k8s.io'), Buffer.from([255, 0, 1]), true));
    assert.deepEqual(decodeChannelMessage(channelProtocol('v4.channel.k8s.io'), Buffer.from([255, 0]), true), { kind: 'data', channel: 255, data: Buffer.from([0]) });
    assert.equal(decodeChannelMessage(channelProtocol('v4.channel.k8s.io'), Buffer.alloc(0), true), undefined);
  });
});

describe('remotecommand options and status', () => {
  it('reads the stream flags as upstream: "1" is true, tty drops stderr, one stream required', () => {
    assert.deepEqual(parseStreamRequest(new URLSearchParams('stdin=1&stdout=1&stderr=1&tty=1')), { stdin: true, stdout: true, stderr: false, tty: true });
    assert.deepEqual(parseStreamRequest(new URLSearchParams('stdout=true')), { stdin: false, stdout: true, stderr: false, tty: false });
    assert.deepEqual(parseStreamRequest(new URLSearchParams('tty=1')), { error: 'you must specify at least 1 of stdin, stdout, stderr' });
  });

  it('writes a Status JSON from v4 on, a bare message on failure before', () => {
    const failure = nonZeroExitStatus(['sh', '-c', 'exit 3'], 3);
    assert.deepEqual(JSON.parse(encodeStatus(4, failure)!.toString()), {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    assert.equal(encodeStatus(4, successStatus())!.toString(), '{"metadata":{},"status":"Success"}');
    assert.equal(encodeStatus(3, successStatus()), undefined);
    assert.equal(encodeStatus(2, failure)!.toString(), failure.message);
  });

  it('reads port-forward ports as upstream', () => {
    assert.deepEqual(parsePortsQuery(new URLSearchParams('port=80,443&port=8080')), [80, 443, 8080]);
    assert.deepEqual(parsePortsQuery(new URLSearchParams('')), { error: 'query parameter "port" is required' });
    assert.deepEqual(parsePortsQuery(new URLSearchParams('port=0')), { error: 'port "0" must be > 0' });
    assert.deepEqual(parsePortsQuery(new URLSearchParams('port=http')), { error: 'unable to parse "http" as a port' });
  });
});
