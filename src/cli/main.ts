// The k8ts command line: one entry, a subcommand per component.
import { Command, InvalidArgumentError } from 'commander';
import { defaultDataDir } from './paths.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('k8ts')
    .description('Kubernetes, written in TypeScript')
    .showHelpAfterError()
    .enablePositionalOptions();

  program
    .command('server')
    .description(
      'start a single-node k8ts server (for now: the embedded datastore with its etcd-compatible endpoint; the API server comes next)',
    )
    .option('--data-dir <dir>', 'state directory', defaultDataDir())
    .option('--datastore-listen <url>', 'where the etcd-compatible datastore endpoint listens', 'http://127.0.0.1:2379')
    .option('--etcd-compaction-retention <duration>', 'history kept before automatic compaction', parseDuration, 5 * 60_000)
    .action(async (opts: { dataDir: string; datastoreListen: string; etcdCompactionRetention: number }) => {
      const { datastoreServe } = await import('./datastore.js');
      await datastoreServe({ dataDir: opts.dataDir, listen: opts.datastoreListen, retentionMs: opts.etcdCompactionRetention });
    });

  const datastore = program.command('datastore').description('the embedded SQLite datastore');
  datastore
    .command('serve')
    .description("serve the SQLite datastore over etcd's v3 gRPC API, so etcdctl (and an etcd client) can use it")
    .option('--data-dir <dir>', 'state directory (the database is <dir>/db/state.db)', defaultDataDir())
    .option('--listen-client-urls <url>', 'http://host:port, https://host:port or unix:///path', 'http://127.0.0.1:2379')
    .option('--cert-file <file>', 'TLS certificate for an https:// URL')
    .option('--key-file <file>', 'TLS key for an https:// URL')
    .option('--trusted-ca-file <file>', 'CA that client certificates must be signed by')
    .option('--auto-compaction-retention <duration>', 'history kept before automatic compaction (0 = off)', parseDuration, 5 * 60_000)
    .action(
      async (opts: {
        dataDir: string;
        listenClientUrls: string;
        certFile?: string;
        keyFile?: string;
        trustedCaFile?: string;
        autoCompactionRetention: number;
      }) => {
        const { datastoreServe } = await import('./datastore.js');
        await datastoreServe({
          dataDir: opts.dataDir,
          listen: opts.listenClientUrls,
          retentionMs: opts.autoCompactionRetention,
          tls: opts.certFile && opts.keyFile ? { certFile: opts.certFile, keyFile: opts.keyFile, caFile: opts.trustedCaFile } : undefined,
        });
      },
    );

  await program.parseAsync(argv);
}

/** Parses Go-style durations as upstream flags take them: 90s, 5m, 1h30m, 250ms; a bare number is seconds. */
export function parseDuration(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new InvalidArgumentError(`"${text}" is not a duration (examples: 30s, 5m, 1h30m)`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}
