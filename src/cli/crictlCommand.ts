// `k8ts crictl`: talks CRI to the node's runtime (containerd, or the kubelet's own CRI socket),
// like crictl, which Debian does not package. Tables match crictl's output.
import { Command, InvalidArgumentError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import {
  containersTable,
  imagesTable,
  parseCriLogLine,
  podsTable,
  toJson,
} from '../kubelet/runtime/cri/crictlFormat.js';
import { containerdPaths, runtimeEndpointFile } from '../kubelet/runtime/cri/paths.js';
// The gRPC client loads when a crictl command runs: every k8ts command registers this one.
import type { CriRuntime } from '../kubelet/runtime/cri/runtime.js';
import type { Container, ContainerState, PodSandbox } from '../kubelet/runtime/types.js';
import { isRuntimeError } from '../kubelet/runtime/types.js';
import { defaultDataDir } from './paths.js';

export interface CrictlIO {
  out: Writable;
  err: Writable;
  /** Where `exec -i` reads from. */
  in?: NodeJS.ReadableStream;
  /** Called with the exit code of `exec` (the CLI exits with it). */
  exit?: (code: number) => void;
}

interface GlobalOptions {
  runtimeEndpoint?: string;
  dataDir: string;
  timeout: number;
}

/**
 * The endpoint crictl uses: --runtime-endpoint, else the one the kubelet recorded in
 * `<dataDir>/agent/runtime-endpoint`, else the managed containerd's socket.
 */
export function resolveRuntimeEndpoint(opts: { runtimeEndpoint?: string; dataDir: string }): string {
  if (opts.runtimeEndpoint) return opts.runtimeEndpoint;
  const recorded = runtimeEndpointFile(opts.dataDir);
  if (existsSync(recorded)) {
    const url = readFileSync(recorded, 'utf8').trim();
    if (url) return url;
  }
  return `unix://${containerdPaths(opts.dataDir).socket}`;
}

const STATES: Record<string, ContainerState> = {
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
  unknown: 'CONTAINER_UNKNOWN',
};

/** Resolves an id prefix the way crictl does (a unique prefix of a container or pod id). */
function resolveId<T extends { id: string }>(items: T[], prefix: string, what: string): string {
  const exact = items.find((i) => i.id === prefix);
  if (exact) return exact.id;
  const matches = items.filter((i) => i.id.startsWith(prefix));
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) throw new Error(`${what} "${prefix}" not found`);
  throw new Error(`${what} id "${prefix}" is ambiguous: ${matches.map((m) => m.id.slice(0, 13)).join(', ')}`);
}

export function registerCrictlCommand(program: Command, io: CrictlIO = { out: process.stdout, err: process.stderr, in: process.stdin }): Command {
  const crictl = program
    .command('crictl')
    .description("talk CRI to the node's container runtime, like crictl")
    .enablePositionalOptions()
    .option('-r, --runtime-endpoint <url>', 'CRI endpoint (default: the one the kubelet recorded in <data-dir>/agent/runtime-endpoint, else the managed containerd)')
    .option('--data-dir <dir>', 'state directory of the node', defaultDataDir())
    .option('-t, --timeout <seconds>', 'timeout of each call', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
      return n;
    }, 10);

  const withRuntime = async (fn: (rt: CriRuntime) => Promise<void>): Promise<void> => {
    const g = crictl.opts<GlobalOptions>();
    const { CriRuntime } = await import('../kubelet/runtime/cri/runtime.js');
    const rt = new CriRuntime({ endpoint: resolveRuntimeEndpoint(g), requestTimeoutMs: g.timeout * 1000 });
    try {
      await fn(rt);
    } catch (err) {
      const message = isRuntimeError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
      io.err.write(`crictl: ${message}\n`);
      if (isRuntimeError(err, 'Unavailable')) io.err.write(`is the runtime running? endpoint: ${rt.endpoint}\n`);
      process.exitCode = 1;
    } finally {
      await rt.close();
    }
  };

  crictl
    .command('ps')
    .description('list containers (running ones unless -a)')
    .option('-a, --all', 'show all containers', false)
    .option('-q, --quiet', 'only ids', false)
    .option('-p, --pod <id>', 'only containers of this pod')
    .option('--name <regex>', 'only containers whose name matches')
    .option('-s, --state <state>', 'created, running, exited or unknown')
    .action((o: { all: boolean; quiet: boolean; pod?: string; name?: string; state?: string }) =>
      withRuntime(async (rt) => {
        let state: ContainerState | undefined = o.all ? undefined : 'CONTAINER_RUNNING';
        if (o.state) {
          state = STATES[o.state.toLowerCase()];
          if (!state) throw new Error('--state should be one of created, running, exited or unknown');
        }
        const podSandboxId = o.pod ? resolveId(await rt.listPodSandbox(), o.pod, 'pod') : undefined;
        let list: Container[] = await rt.listContainers({ ...(state ? { state } : {}), ...(podSandboxId ? { podSandboxId } : {}) });
        if (o.name) {
          const re = new RegExp(o.name);
          list = list.filter((c) => re.test(c.metadata.name));
        }
        io.out.write(o.quiet ? list.map((c) => `${c.id}\n`).join('') : containersTable(list));
      }),
    );

  crictl
    .command('pods')
    .description('list pod sandboxes')
    .option('-q, --quiet', 'only ids', false)
    .option('--name <regex>', 'only pods whose name matches')
    .option('--namespace <regex>', 'only pods whose namespace matches')
    .option('-s, --state <state>', 'ready or notready')
    .action((o: { quiet: boolean; name?: string; namespace?: string; state?: string }) =>
      withRuntime(async (rt) => {
        const state = o.state ? (o.state.toLowerCase() === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY') : undefined;
        let pods: PodSandbox[] = await rt.listPodSandbox(state ? { state } : undefined);
        if (o.name) pods = pods.filter((p) => new RegExp(o.name!).test(p.metadata.name));
        if (o.namespace) pods = pods.filter((p) => new RegExp(o.namespace!).test(p.metadata.namespace));
        io.out.write(o.quiet ? pods.map((p) => `${p.id}\n`).join('') : podsTable(pods));
      }),
    );

  crictl
    .command('images')
    .alias('image')
    .description('list images')
    .option('-q, --quiet', 'only image ids', false)
    .argument('[repository]', 'only images of this repository')
    .action((repository: string | undefined, o: { quiet: boolean }) =>
      withRuntime(async (rt) => {
        let images = await rt.listImages();
        if (repository) images = images.filter((i) => i.repoTags.some((t) => t === repository || t.startsWith(`${repository}:`)));
        io.out.write(o.quiet ? images.map((i) => `${i.id}\n`).join('') : imagesTable(images));
      }),
    );

  crictl
    .command('inspect')
    .description('show the status of one or more containers (JSON)')
    .argument('<id...>', 'container ids (unique prefixes work)')
    .action((ids: string[]) =>
      withRuntime(async (rt) => {
        const all = await rt.listContainers();
        for (const prefix of ids) {
          const id = resolveId(all, prefix, 'container');
          const [status, info] = await Promise.all([rt.containerStatus(id), rt.containerInfo(id)]);
          io.out.write(`${toJson({ status, ...info })}\n`);
        }
      }),
    );

  crictl
    .command('inspectp')
    .description('show the status of one or more pod sandboxes (JSON)')
    .argument('<id...>', 'pod ids (unique prefixes work)')
    .action((ids: string[]) =>
      withRuntime(async (rt) => {
        const all = await rt.listPodSandbox();
        for (const prefix of ids) {
          const id = resolveId(all, prefix, 'pod');
          const [status, info] = await Promise.all([rt.podSandboxStatus(id), rt.podSandboxInfo(id)]);
          io.out.write(`${toJson({ status, ...info })}\n`);
        }
      }),
    );

  crictl
    .command('logs')
    .description("print a container's log")
    .argument('<id>', 'container id (a unique prefix works)')
    .option('-f, --follow', 'keep printing new lines until the container exits', false)
    .option('--tail <n>', 'only the last n lines', (v: string) => Number(v))
    .option('--timestamps', 'prefix each line with its time', false)
    .action((prefix: string, o: { follow: boolean; tail?: number; timestamps: boolean }) =>
      withRuntime(async (rt) => {
        const id = resolveId(await rt.listContainers(), prefix, 'container');
        const status = await rt.containerStatus(id);
        if (!status.logPath) throw new Error(`container ${id} has no log path`);
        await printLog(status.logPath, o, io, async () => (await rt.containerStatus(id)).state === 'CONTAINER_RUNNING');
      }),
    );

  crictl
    .command('exec')
    .description('run a command in a running container')
    .option('-i, --interactive', 'keep stdin open', false)
    .option('-t, --tty', 'allocate a terminal', false)
    .option('-s, --sync', 'run synchronously (ExecSync)', false)
    .option('--timeout <seconds>', 'with --sync: time limit', (v: string) => Number(v), 0)
    .argument('<id>', 'container id (a unique prefix works)')
    .argument('<command...>', 'command and arguments')
    .passThroughOptions()
    .action((prefix: string, cmd: string[], o: { interactive: boolean; tty: boolean; sync: boolean; timeout: number }) =>
      withRuntime(async (rt) => {
        const id = resolveId(await rt.listContainers(), prefix, 'container');
        if (o.sync) {
          const r = await rt.execSync(id, cmd, o.timeout);
          io.out.write(r.stdout);
          io.err.write(r.stderr);
          io.exit?.(r.exitCode);
          if (r.exitCode !== 0) process.exitCode = r.exitCode;
          return;
        }
        const session = await rt.exec(id, cmd, { stdin: o.interactive, stdout: true, stderr: !o.tty, tty: o.tty });
        const input = io.in as (NodeJS.ReadStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void }) | undefined;
        const raw = o.tty && input?.isTTY && input.setRawMode;
        if (raw) input.setRawMode!(true);
        if (o.interactive && input && session.stdin) input.pipe(session.stdin);
        const output = io.out as Writable & { columns?: number; rows?: number };
        if (o.tty && output.columns && output.rows) session.resize({ width: output.columns, height: output.rows });
        session.stdout?.pipe(io.out, { end: false });
        session.stderr?.pipe(io.err, { end: false });
        const exit = await session.exit;
        if (raw) input.setRawMode!(false);
        if (o.interactive && input && session.stdin) input.unpipe(session.stdin);
        input?.pause?.();
        if (exit.message && exit.exitCode === undefined) io.err.write(`crictl: ${exit.message}\n`);
        const code = exit.exitCode ?? 1;
        io.exit?.(code);
        if (code !== 0) process.exitCode = code;
      }),
    );

  crictl
    .command('info')
    .description("the runtime's status and configuration (JSON)")
    .action(() =>
      withRuntime(async (rt) => {
        const s = await rt.status(true);
        io.out.write(`${toJson({ status: { conditions: s.conditions }, ...(s.info ?? {}) })}\n`);
      }),
    );

  crictl
    .command('version')
    .description('runtime name and versions')
    .action(() =>
      withRuntime(async (rt) => {
        const v = await rt.version();
        io.out.write(`Version:  ${v.version}\nRuntimeName:  ${v.runtimeName}\nRuntimeVersion:  ${v.runtimeVersion}\nRuntimeApiVersion:  ${v.runtimeApiVersion}\n`);
      }),
    );

  return crictl;
}

/** Prints a CRI log file; with follow, keeps reading while `stillRunning()` says so. */
async function printLog(
  file: string,
  o: { follow: boolean; tail?: number; timestamps: boolean },
  io: CrictlIO,
  stillRunning: () => Promise<boolean>,
): Promise<void> {
  const emit = (line: string): void => {
    const parsed = parseCriLogLine(line);
    if (!parsed) return;
    const text = `${o.timestamps ? `${parsed.timestamp} ` : ''}${parsed.content}${parsed.partial ? '' : '\n'}`;
    (parsed.stream === 'stderr' ? io.err : io.out).write(text);
  };
  let offset = 0;
  let pending = '';
  const readNew = async (): Promise<string[]> => {
    const size = (await stat(file).catch(() => undefined))?.size ?? 0;
    if (size < offset) offset = 0; // rotated
    if (size === offset) return [];
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset);
      offset = size;
      const text = pending + buf.toString('utf8');
      const lines = text.split('\n');
      pending = lines.pop() ?? '';
      return lines;
    } finally {
      await fh.close();
    }
  };
  let first = await readNew();
  if (o.tail !== undefined && o.tail >= 0) first = o.tail === 0 ? [] : first.slice(-o.tail);
  first.forEach(emit);
  if (!o.follow) return;
  for (;;) {
    const running = await stillRunning().catch(() => false);
    (await readNew()).forEach(emit);
    if (!running) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}
