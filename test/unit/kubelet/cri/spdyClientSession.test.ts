// The client role of SpdySession (the kubelet talking to a CRI runtime's streaming server): the frames
// it sends, and how it takes the server's replies, resets, pings and the end of the connection.
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import {
  FLAG_FIN,
  FrameParser,
  FrameType,
  HeaderCompressor,
  HeaderDecompressor,
  RstStatus,
  SpdySession,
  SpdyStreamRefusedError,
  encodeControlFrame,
  encodeDataFrame,
  type RawFrame,
  type SpdyStream,
} from '../../../../src/kubelet/server/spdy.js';

type ControlFrame = Extract<RawFrame, { control: true }>;
type DataFrame = Extract<RawFrame, { control: false }>;

/** A client-role session wired to a scripted server: what the session writes is parsed into frames. */
function scriptedServer() {
  const toClient = new PassThrough();
  const toServer = new PassThrough();
  const session = new SpdySession(Duplex.from({ readable: toClient, writable: toServer }), { role: 'client', replyTimeoutMs: 2_000 });
  session.on('error', () => undefined);
  const received: RawFrame[] = [];
  const parser = new FrameParser();
  toServer.on('data', (c: Buffer) => received.push(...parser.push(c)));
  const deflater = new HeaderCompressor();
  const inflater = new HeaderDecompressor();
  const server = {
    session,
    received,
    inflater,
    send(frame: Buffer) {
      toClient.write(frame);
    },
    async reply(id: number, flags = 0) {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(id);
      toClient.write(encodeControlFrame(FrameType.SYN_REPLY, flags, Buffer.concat([head, await deflater.compress(new Map())])));
    },
    reset(id: number, status: number) {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(id, 0);
      p.writeUInt32BE(status, 4);
      toClient.write(encodeControlFrame(FrameType.RST_STREAM, 0, p));
    },
    /** Waits until the session wrote `n` frames. */
    async frames(n: number): Promise<RawFrame[]> {
      for (let i = 0; i < 200 && received.length < n; i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(received.length >= n, `wanted ${n} frames, got ${received.length}`);
      return received;
    },
    hangUp() {
      toClient.end();
    },
    close() {
      session.destroy();
      deflater.close();
      inflater.close();
    },
  };
  return server;
}

function readAll(s: SpdyStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let t = '';
    s.on('data', (c: Buffer) => (t += c.toString()));
    s.on('end', () => resolve(t));
    s.on('error', reject);
  });
}

describe('SPDY client role', () => {
  it('opens streams with SYN_STREAM on odd ids 1, 3, 5 carrying lower-cased headers, and resolves on SYN_REPLY', async () => {
    const server = scriptedServer();
    try {
      const opened: Promise<SpdyStream>[] = [];
      const wanted: Record<string, string>[] = [{ streamType: 'error' }, { streamType: 'data', port: '8080', requestID: '0' }, { streamType: 'stdin' }];
      for (const h of wanted) opened.push(server.session.openStream(h));
      const frames = (await server.frames(3)) as ControlFrame[];
      const got: { id: number; assoc: number; priority: number; flags: number; headers: [string, string[]][] }[] = [];
      for (const f of frames) {
        assert.deepEqual([f.control, f.version, f.type], [true, 3, FrameType.SYN_STREAM]);
        got.push({
          id: f.payload.readUInt32BE(0),
          assoc: f.payload.readUInt32BE(4),
          priority: f.payload.readUInt16BE(8),
          flags: f.flags,
          headers: [...(await server.inflater.decompress(f.payload.subarray(10)))],
        });
      }
      assert.deepEqual(got, [
        { id: 1, assoc: 0, priority: 0, flags: 0, headers: [['streamtype', ['error']]] },
        { id: 3, assoc: 0, priority: 0, flags: 0, headers: [['streamtype', ['data']], ['port', ['8080']], ['requestid', ['0']]] },
        { id: 5, assoc: 0, priority: 0, flags: 0, headers: [['streamtype', ['stdin']]] },
      ]);
      // Replies may come in any order; each resolves its own stream.
      await server.reply(3);
      await server.reply(1);
      await server.reply(5);
      const streams = await Promise.all(opened);
      assert.deepEqual(streams.map((s) => [s.id, s.header('streamType')]), [[1, 'error'], [3, 'data'], [5, 'stdin']]);
    } finally {
      server.close();
    }
  });

  it('sends DATA on a replied stream and half-closes it with an empty FIN frame on end()', async () => {
    const server = scriptedServer();
    try {
      const opening = server.session.openStream({ streamType: 'stdin' });
      await server.frames(1);
      await server.reply(1);
      const stdin = await opening;
      stdin.write('tar bytes');
      stdin.end();
      const frames = await server.frames(3);
      const data = frames.slice(1) as DataFrame[];
      assert.deepEqual(
        data.map((f) => [f.control, f.streamId, f.flags, f.data.toString()]),
        [
          [false, 1, 0, 'tar bytes'],
          [false, 1, FLAG_FIN, ''],
        ],
      );
    } finally {
      server.close();
    }
  });

  const endings: { name: string; end: (server: ReturnType<typeof scriptedServer>) => void; writable: boolean }[] = [
    { name: 'a FIN on the last DATA frame ends the readable side; our side stays writable', end: (s) => s.send(encodeDataFrame(1, FLAG_FIN, Buffer.from(' and more'))), writable: true },
    { name: 'a RST_STREAM after the output keeps what arrived readable, then ends it (containerd resets streams after the exit status)', end: (s) => s.reset(1, RstStatus.CANCEL), writable: false },
    { name: 'the connection ending keeps what arrived readable, then ends it', end: (s) => s.hangUp(), writable: false },
  ];
  for (const c of endings) {
    it(c.name, async () => {
      const server = scriptedServer();
      try {
        const opening = server.session.openStream({ streamType: 'stdout' });
        await server.frames(1);
        await server.reply(1);
        const stdout = await opening;
        stdout.on('error', () => undefined);
        let remoteEnd = false;
        stdout.once('remoteEnd', () => (remoteEnd = true));
        server.send(encodeDataFrame(1, 0, Buffer.from('output')));
        // Nobody reads yet: the data must survive the ending below.
        await new Promise((r) => setTimeout(r, 20));
        c.end(server);
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(remoteEnd, true, 'remoteEnd is emitted before the data is read');
        const text = await readAll(stdout);
        assert.equal(text, c.end === endings[0]!.end ? 'output and more' : 'output');
        const wrote = await new Promise<Error | null | undefined>((resolve) => stdout.write('x', (err) => resolve(err)));
        assert.equal(wrote == null, c.writable);
      } finally {
        server.close();
      }
    });
  }

  const refusals: { name: string; refuse: (server: ReturnType<typeof scriptedServer>) => void; message: RegExp }[] = [
    { name: 'a reset before the reply rejects openStream with SpdyStreamRefusedError', refuse: (s) => s.reset(1, RstStatus.REFUSED_STREAM), message: /reset stream 1 \(status 3\)/ },
    { name: 'a connection that ends before the reply rejects openStream', refuse: (s) => s.hangUp(), message: /connection closed before the stream was answered/ },
  ];
  for (const c of refusals) {
    it(c.name, async () => {
      const server = scriptedServer();
      try {
        const opening = server.session.openStream({ streamType: 'error' });
        await server.frames(1);
        c.refuse(server);
        await assert.rejects(opening, (err: Error) => err instanceof SpdyStreamRefusedError && c.message.test(err.message));
      } finally {
        server.close();
      }
    });
  }

  it('gives up on a stream the server never answers, resetting it', async () => {
    const toClient = new PassThrough();
    const toServer = new PassThrough();
    const session = new SpdySession(Duplex.from({ readable: toClient, writable: toServer }), { role: 'client', replyTimeoutMs: 30 });
    const parser = new FrameParser();
    const frames: RawFrame[] = [];
    toServer.on('data', (c: Buffer) => frames.push(...parser.push(c)));
    try {
      await assert.rejects(session.openStream({ streamType: 'error' }), /no reply to stream 1 \(error\) within 30 ms/);
      const rst = frames.find((f) => f.control && f.type === FrameType.RST_STREAM) as ControlFrame;
      assert.deepEqual([rst.payload.readUInt32BE(0), rst.payload.readUInt32BE(4)], [1, RstStatus.CANCEL]);
    } finally {
      session.destroy();
    }
  });

  it("echoes the server's pings (even ids) and not pings with a client's id; refuses streams the server opens", async () => {
    const server = scriptedServer();
    try {
      server.send(encodeControlFrame(FrameType.PING, 0, Buffer.from([0, 0, 0, 3])));
      server.send(encodeControlFrame(FrameType.PING, 0, Buffer.from([0, 0, 0, 2])));
      const syn = Buffer.alloc(10);
      syn.writeUInt32BE(2, 0);
      const deflater = new HeaderCompressor();
      server.send(encodeControlFrame(FrameType.SYN_STREAM, 0, Buffer.concat([syn, await deflater.compress(new Map([['streamtype', ['x']]]))])));
      deflater.close();
      const frames = (await server.frames(2)) as ControlFrame[];
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        server.received.map((f) => [(f as ControlFrame).type, (f as ControlFrame).payload.readUInt32BE(0)]),
        [
          [FrameType.PING, 2],
          [FrameType.RST_STREAM, 2],
        ],
      );
      assert.equal(frames[1]!.payload.readUInt32BE(4), RstStatus.REFUSED_STREAM);
    } finally {
      server.close();
    }
  });

  it('takes GOAWAY as no new streams while the open ones keep flowing', async () => {
    const server = scriptedServer();
    try {
      const opening = server.session.openStream({ streamType: 'stdout' });
      await server.frames(1);
      await server.reply(1);
      const stdout = await opening;
      server.send(encodeControlFrame(FrameType.GOAWAY, 0, Buffer.alloc(8)));
      server.send(encodeDataFrame(1, FLAG_FIN, Buffer.from('late output')));
      assert.equal(await readAll(stdout), 'late output');
      await assert.rejects(server.session.openStream({ streamType: 'stderr' }), /going away/);
    } finally {
      server.close();
    }
  });

  it('refuses openStream in the server role', async () => {
    const session = new SpdySession(Duplex.from({ readable: new PassThrough(), writable: new PassThrough() }));
    try {
      await assert.rejects(session.openStream({ streamType: 'error' }), /only the client role opens streams/);
    } finally {
      session.destroy();
    }
  });
});

describe('SPDY client and server sessions together', () => {
  it('carries a stream both ways: the client FIN ends the server reader, the server reply data reaches the client', async () => {
    const a = new PassThrough();
    const b = new PassThrough();
    const client = new SpdySession(Duplex.from({ readable: a, writable: b }), { role: 'client' });
    const server = new SpdySession(Duplex.from({ readable: b, writable: a }));
    try {
      const seen: Promise<{ type: string | undefined; input: string }>[] = [];
      server.on('stream', (s) => {
        seen.push(
          readAll(s).then((input) => {
            s.end(`echo:${input}`);
            return { type: s.header('streamtype'), input };
          }),
        );
      });
      const stdin = await client.openStream({ streamType: 'stdin' });
      stdin.end('all of stdin');
      assert.equal(await readAll(stdin), 'echo:all of stdin');
      assert.deepEqual(await Promise.all(seen), [{ type: 'stdin', input: 'all of stdin' }]);
    } finally {
      client.destroy();
      server.destroy();
    }
  });
});

describe('SPDY client back-pressure', () => {
  it('resumes the connection once a lagging stream that the server reset in the same packet is read to its end', async () => {
    const server = scriptedServer();
    try {
      const openingOut = server.session.openStream({ streamType: 'stdout' });
      const openingErr = server.session.openStream({ streamType: 'error' });
      await server.frames(2);
      await server.reply(1);
      await server.reply(3);
      const [stdout, error] = await Promise.all([openingOut, openingErr]);
      const status = readAll(error);
      // More output than the stream buffers, and its reset, in one packet: the session pauses the
      // connection for the lagging reader after the stream has already ended.
      const big = Buffer.alloc(256 * 1024, 'x');
      const rst = Buffer.alloc(8);
      rst.writeUInt32BE(1, 0);
      rst.writeUInt32BE(RstStatus.CANCEL, 4);
      server.send(Buffer.concat([encodeDataFrame(1, 0, big.subarray(0, 128 * 1024)), encodeDataFrame(1, 0, big.subarray(128 * 1024)), encodeControlFrame(FrameType.RST_STREAM, 0, rst)]));
      await new Promise((r) => setTimeout(r, 20));
      server.send(encodeDataFrame(3, FLAG_FIN, Buffer.from('{"status":"Success"}')));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((await readAll(stdout)).length, big.length);
      assert.equal(await status, '{"status":"Success"}');
    } finally {
      server.close();
    }
  });
});
