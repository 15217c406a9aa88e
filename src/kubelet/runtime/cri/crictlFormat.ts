// Pure output formatting for `k8ts crictl`, matching crictl's tables: truncated ids, "N minutes ago",
// SI sizes, tabwriter-style columns, and the CRI log line parser for `logs`.
import type { Container, Image, PodSandbox } from '../types.js';

/** crictl's table: columns padded to at least 20 characters with 3 spaces between (Go tabwriter 20,1,3). */
export function formatTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(Math.max(20, widths[i]! + 3)))).join('').trimEnd() + '\n')
    .join('');
}

/** First 13 characters of an id, after an optional prefix such as `sha256:`. */
export function truncateId(id: string, prefix = ''): string {
  const bare = prefix && id.startsWith(prefix) ? id.slice(prefix.length) : id;
  return bare.slice(0, 13);
}

/** docker/go-units HumanDuration: "Less than a second", "About a minute", "3 hours", … */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

export function ago(nanos: bigint, now = Date.now()): string {
  return `${humanDuration(now - Number(nanos / 1_000_000n))} ago`;
}

/** docker/go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits ("1.2MB", "750kB"). */
export function humanSize(bytes: number | bigint): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = Number(bytes);
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))}${units[i]}`;
}

const CONTAINER_STATE: Record<Container['state'], string> = {
  CONTAINER_CREATED: 'Created',
  CONTAINER_RUNNING: 'Running',
  CONTAINER_EXITED: 'Exited',
  CONTAINER_UNKNOWN: 'Unknown',
};

export function containersTable(containers: Container[], now = Date.now()): string {
  const sorted = [...containers].sort((a, b) => (b.createdAt > a.createdAt ? 1 : b.createdAt < a.createdAt ? -1 : 0));
  const rows = [['CONTAINER', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD ID', 'POD', 'NAMESPACE']];
  for (const c of sorted) {
    const image = /^sha256:[0-9a-f]{64}$/.test(c.image.image) ? truncateId(c.image.image, 'sha256:') : c.image.image;
    rows.push([
      truncateId(c.id),
      image,
      ago(c.createdAt, now),
      CONTAINER_STATE[c.state],
      c.metadata.name,
      String(c.metadata.attempt),
      truncateId(c.podSandboxId),
      c.labels['io.kubernetes.pod.name'] ?? 'unknown',
      c.labels['io.kubernetes.pod.namespace'] ?? 'unknown',
    ]);
  }
  return formatTable(rows);
}

export function podsTable(pods: PodSandbox[], now = Date.now()): string {
  const sorted = [...pods].sort((a, b) => (b.createdAt > a.createdAt ? 1 : b.createdAt < a.createdAt ? -1 : 0));
  const rows = [['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME']];
  for (const p of sorted) {
    rows.push([
      truncateId(p.id),
      ago(p.createdAt, now),
      p.state === 'SANDBOX_READY' ? 'Ready' : 'NotReady',
      p.metadata.name,
      p.metadata.namespace,
      String(p.metadata.attempt),
      p.runtimeHandler || '(default)',
    ]);
  }
  return formatTable(rows);
}

/** Splits `registry/repo:tag` into repo and tag (a port's colon is not a tag). */
export function splitRepoTag(ref: string): [string, string] {
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, '<none>'];
}

export function imagesTable(images: Image[]): string {
  const rows = [['IMAGE', 'TAG', 'IMAGE ID', 'SIZE']];
  for (const image of images) {
    const id = truncateId(image.id, 'sha256:');
    const size = humanSize(image.size);
    if (image.repoTags.length === 0) {
      const repo = image.repoDigests[0]?.split('@')[0] ?? '<none>';
      rows.push([repo, '<none>', id, size]);
    }
    for (const ref of image.repoTags) {
      const [repo, tag] = splitRepoTag(ref);
      rows.push([repo, tag, id, size]);
    }
  }
  return formatTable(rows);
}

export interface CriLogLine {
  timestamp: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  content: string;
}

/** Parses one line of a CRI log file (`<RFC3339Nano> <stdout|stderr> <P|F> <content>`); undefined if malformed. */
export function parseCriLogLine(line: string): CriLogLine | undefined {
  const m = /^(\S+) (stdout|stderr) ([PF]) ?(.*)$/.exec(line);
  if (!m) return undefined;
  return { timestamp: m[1]!, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', content: m[4]! };
}

/** JSON with bigints as decimal strings (what crictl inspect prints for int64 fields). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
