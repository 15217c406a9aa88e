// A test double for the runtime calls the kubelet server makes: exec runs host processes, attach
// joins a long-running host process, port-forward dials 127.0.0.1, container status comes from a table.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import type { ContainerRuntime, ContainerState, ContainerStatus, ContainerStreams, ExecSyncResult, StreamOptions } from '../../../../src/kubelet/runtime/types.js';
import { RuntimeError } from '../../../../src/kubelet/runtime/types.js';

type Streaming = Pick<ContainerRuntime, 'containerStatus' | 'exec' | 'attach' | 'execSync' | 'portForward'>;

export class HostRuntime implements Streaming {
  readonly containers = new Map<string, { logPath: string; state: ContainerState }>();
  /** The main process attach connects to, per container id. */
  readonly mains = new Map<string, ChildProcess>();
  readonly execs: { id: string; cmd: string[]; opts: StreamOptions }[] = [];
  readonly forwards: { sandbox: string; port: number }[] = [];
  /** Terminal sizes the clients sent, in order. */
  readonly resizes: { width: number; height: number }[] = [];
  private attachSessions = 0;

  async containerStatus(id: string): Promise<ContainerStatus> {
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError('NotFound', `container "${id}" not found`);
    return {
      id,
      metadata: { name: id, attempt: 0 },
      state: c.state,
      createdAt: 0n,
      startedAt: 0n,
      finishedAt: 0n,
      exitCode: 0,
      image: { image: 'busybox' },
      imageRef: 'sha256:0',
      reason: '',
      message: '',
      labels: {},
      annotations: {},
      mounts: [],
      logPath: c.logPath,
    };
  }

  async exec(id: string, cmd: string[], opts: StreamOptions): Promise<ContainerStreams> {
    if (!this.containers.has(id)) throw new RuntimeError('NotFound', `container "${id}" not found`);
    this.execs.push({ id, cmd, opts });
    // A tty is emulated by `script`, which runs the command on a pseudo-terminal.
    const child = opts.tty
      ? spawn('script', ['-qfec', cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(cmd[0]!, cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const exit = new Promise<{ exitCode?: number; message?: string }>((resolve) => {
      child.once('error', (err) => resolve({ message: err.message }));
      child.once('exit', (code, sig) => resolve({ exitCode: code ?? (sig ? 128 + 9 : 1) }));
    });
    child.stdin!.on('error', () => undefined);
    if (!opts.stdin) child.stdin!.end();
    return {
      ...(opts.stdin ? { stdin: child.stdin! } : {}),
      ...(opts.stdout ? { stdout: child.stdout! } : {}),
      ...(opts.stderr && !opts.tty ? { stderr: child.stderr! } : {}),
      resize: (size) => this.resizes.push(size),
      exit,
      close: () => {
        if (child.exitCode === null) child.kill('SIGKILL');
      },
    };
  }

  async attach(id: string, opts: StreamOptions): Promise<ContainerStreams> {
    const main = this.mains.get(id);
    if (!main) throw new RuntimeError('NotFound', `container "${id}" is not running`);
    // The main process answers line by line, in order. When the client closes stdin (stdinOnce), a
    // marker line goes through it too: once the marker's answer is back, every earlier answer has
    // been forwarded and the session can end, however slow the machine is.
    const marker = `attach-end-${++this.attachSessions}`;
    const stdout = new PassThrough();
    let pending = '';
    let finished = false;
    let resolveExit!: (r: { exitCode?: number }) => void;
    const exit = new Promise<{ exitCode?: number }>((resolve) => (resolveExit = resolve));
    const finish = () => {
      if (finished) return;
      finished = true;
      main.stdout!.off('data', onOut);
      stdout.end();
      resolveExit({});
    };
    const onOut = (d: Buffer) => {
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl + 1);
        pending = pending.slice(nl + 1);
        if (line.includes(marker)) return finish();
        stdout.write(line);
      }
    };
    main.stdout!.on('data', onOut);
    const stdin = new PassThrough();
    stdin.on('data', (d: Buffer) => main.stdin!.write(d));
    stdin.on('end', () => main.stdin!.write(`${marker}\n`));
    return {
      ...(opts.stdin ? { stdin } : {}),
      ...(opts.stdout ? { stdout } : {}),
      resize: () => undefined,
      exit,
      close: finish,
    };
  }

  async execSync(id: string, cmd: string[]): Promise<ExecSyncResult> {
    const s = await this.exec(id, cmd, { stdin: false, stdout: true, stderr: true, tty: false });
    const read = (r?: NodeJS.ReadableStream) =>
      new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        if (!r) return resolve(Buffer.alloc(0));
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve(Buffer.concat(chunks)));
      });
    const [stdout, stderr, exit] = await Promise.all([read(s.stdout), read(s.stderr), s.exit]);
    return { stdout, stderr, exitCode: exit.exitCode ?? 0 };
  }

  portForward(sandbox: string, port: number): Promise<Duplex> {
    this.forwards.push({ sandbox, port });
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => resolve(sock));
      sock.once('error', (err) => reject(new RuntimeError('Internal', `failed to connect to localhost:${port} inside the pod: ${err.message}`)));
    });
  }
}
