// Conntrack cleanup of stale UDP flows (upstream pkg/proxy/conntrack): UDP has no connection to
// close, so without this a client keeps sending to a removed service IP or a deleted pod until its
// conntrack entry times out. Runs the `conntrack` tool after each successful sync.
import type { Logger } from '../../util/log.js';
import type { CommandRunner } from './exec.js';
import type { IPFamily, SyncResult } from './types.js';

export type StaleFlows = SyncResult['staleUDP'];

/** The `conntrack -D` argument lists that delete `stale`. */
export function conntrackDeleteCommands(stale: StaleFlows, family: IPFamily): string[][] {
  const fam = family === 'IPv6' ? ['-f', 'ipv6'] : [];
  const cmds: string[][] = [];
  for (const ip of stale.serviceIPs) cmds.push(['-D', ...fam, '--orig-dst', ip, '-p', 'udp']);
  for (const port of stale.nodePorts) cmds.push(['-D', ...fam, '-p', 'udp', '--dport', String(port)]);
  for (const e of stale.endpoints) cmds.push(['-D', ...fam, '--orig-dst', e.serviceIP, '--dst-nat', e.endpointIP, '-p', 'udp']);
  return cmds;
}

/** Deletes the flows; returns the errors (conntrack exits 1 when nothing matched, which is fine). */
export async function cleanStaleUDPFlows(exec: CommandRunner, stale: StaleFlows, family: IPFamily, log?: Logger): Promise<string[]> {
  const errors: string[] = [];
  for (const args of conntrackDeleteCommands(stale, family)) {
    const r = await exec.run('conntrack', args);
    const nothingMatched = /0 flow entries have been deleted/.test(r.stderr);
    if (r.code !== 0 && !nothingMatched) errors.push(`conntrack ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
    else log?.debug({ args }, 'deleted stale UDP conntrack entries');
  }
  return errors;
}
