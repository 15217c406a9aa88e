// A small CNI client (spec 1.0.0, https://github.com/containernetworking/cni/blob/main/SPEC.md):
// runs the plugins of a network configuration list for one attachment (container + netns + ifname),
// chaining results through `prevResult` on ADD and CHECK and walking the list backwards on DEL.
// Plugins are plain executables in `binDir`; configuration goes on stdin, parameters in CNI_* env vars.
import { access, readFile, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../util/commands.js';

/** One plugin's configuration as found in a conflist's `plugins` array (`type` names the executable). */
export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** A network configuration list (`*.conflist`). */
export interface CniNetworkConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

/** The result of ADD (spec section "Success"). */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** What identifies one attachment of a container to a network. */
export interface CniRuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, e.g. K8S_POD_NAMESPACE; `IgnoreUnknown=1` is always added. */
  args?: [string, string][];
  /** Values for plugins that declare the matching capability, e.g. `{ portMappings: [...] }`. */
  capabilityArgs?: Record<string, unknown>;
}

export interface CniOptions {
  /** Where the plugin executables are (`CNI_PATH`). */
  binDir: string;
  /** Per-plugin time limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A plugin's error result (spec section "Error"), or a plugin that could not be run. */
export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly plugin: string,
    readonly code: number,
    readonly msg: string,
    readonly details?: string,
  ) {
    super(`plugin type="${plugin}" failed (${code}): ${msg}${details ? `: ${details}` : ''}`);
  }
}

type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

function pluginEnv(command: CniCommand, rt: CniRuntimeConf, binDir: string): NodeJS.ProcessEnv {
  const args = [['IgnoreUnknown', '1'] as [string, string], ...(rt.args ?? [])].map(([k, v]) => `${k}=${v}`).join(';');
  return {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_IFNAME: rt.ifName,
    CNI_ARGS: args,
    CNI_PATH: binDir,
  };
}

/** The stdin configuration for one plugin of a list: name/cniVersion injected, capabilities mapped to runtimeConfig. */
export function pluginStdinConf(list: CniNetworkConfList, plugin: CniPluginConf, rt: CniRuntimeConf, prevResult?: CniResult): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, enabled] of Object.entries(plugin.capabilities ?? {})) {
    if (enabled && rt.capabilityArgs && cap in rt.capabilityArgs) runtimeConfig[cap] = rt.capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

/** Executes one plugin; resolves its stdout JSON (undefined when empty, as DEL/CHECK print nothing). */
export async function execCniPlugin(command: CniCommand, conf: Record<string, unknown>, rt: CniRuntimeConf, opts: CniOptions): Promise<unknown> {
  const type = String(conf.type);
  if (!/^[A-Za-z0-9._-]+$/.test(type)) throw new CniError(type, 999, 'invalid plugin type');
  const bin = join(opts.binDir, type);
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw new CniError(type, 999, `failed to find plugin "${type}" in path [${opts.binDir}]`);
  }
  // Off the caller's thread: a plugin start would block the kubelet's (and API server's) loop.
  const r = await runCommand(bin, [], { env: pluginEnv(command, rt, opts.binDir), input: JSON.stringify(conf), timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.signal ? { signal: opts.signal } : {}) }).catch((e: Error) => {
    throw new CniError(type, 999, e.message);
  });
  const text = r.stdout.toString('utf8').trim();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (r.code === 0) return parsed;
  const e = (parsed ?? {}) as { code?: number; msg?: string; details?: string };
  const stderr = r.stderr.toString('utf8').trim();
  throw new CniError(type, e.code ?? 999, e.msg ?? (r.signal ? `killed by ${r.signal}` : stderr || `exit status ${r.code}`), e.details);
}

/** CNI ADD over the whole list: each plugin gets the previous one's result; returns the last result. */
export async function addNetworkList(list: CniNetworkConfList, rt: CniRuntimeConf, opts: CniOptions): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const plugin of list.plugins) {
    const result = (await execCniPlugin('ADD', pluginStdinConf(list, plugin, rt, prev), rt, opts)) as CniResult | undefined;
    if (result) prev = result;
  }
  return prev ?? { cniVersion: list.cniVersion };
}

/** CNI DEL, plugins in reverse order, with the cached ADD result as prevResult. Every plugin is called even if one fails; the first error is thrown. */
export async function delNetworkList(list: CniNetworkConfList, rt: CniRuntimeConf, opts: CniOptions, cachedResult?: CniResult): Promise<void> {
  let first: unknown;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execCniPlugin('DEL', pluginStdinConf(list, plugin, rt, cachedResult), rt, opts);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}

/** CNI CHECK in list order with the cached ADD result (skipped when the list disables it). */
export async function checkNetworkList(list: CniNetworkConfList, rt: CniRuntimeConf, opts: CniOptions, cachedResult: CniResult): Promise<void> {
  if (list.disableCheck) return;
  for (const plugin of list.plugins) await execCniPlugin('CHECK', pluginStdinConf(list, plugin, rt, cachedResult), rt, opts);
}

/** The first `*.conflist` (or single-plugin `*.conf`/`*.json`) in `confDir`, by file name, as libcni picks it; undefined when none. */
export async function loadDefaultNetwork(confDir: string): Promise<CniNetworkConfList | undefined> {
  let names: string[];
  try {
    names = (await readdir(confDir)).filter((n) => /\.(conflist|conf|json)$/.test(n)).sort();
  } catch {
    return undefined;
  }
  for (const name of names) {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(await readFile(join(confDir, name), 'utf8')) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (Array.isArray(raw.plugins)) return raw as unknown as CniNetworkConfList;
    if (typeof raw.type === 'string') {
      const { cniVersion, name: netName, ...plugin } = raw;
      return { cniVersion: String(cniVersion ?? '1.0.0'), name: String(netName), plugins: [plugin as CniPluginConf] };
    }
  }
  return undefined;
}

/** The pod's first IPv4/IPv6 addresses from an ADD result (without prefix length), the primary first. */
export function resultIps(result: CniResult): string[] {
  return (result.ips ?? []).map((ip) => ip.address.split('/')[0] ?? '').filter((a) => a !== '');
}
