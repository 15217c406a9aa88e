// Runs the real DNS tools against a server on loopback: dig (bind9-dnsutils) and busybox nslookup.
import { execFile, execFileSync } from 'node:child_process';

export function digAvailable(): boolean {
  try {
    execFileSync('dig', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `dig @127.0.0.1 -p PORT args…`; resolves with stdout (dig exits 0 even for NXDOMAIN). */
export function dig(port: number, args: string[], server = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${server}`, '-p', String(port), '+time=3', '+tries=1', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && !stdout) reject(new Error(`dig ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** The status word of a full dig answer (NOERROR, NXDOMAIN, SERVFAIL, …). */
export function digStatus(out: string): string | undefined {
  return /status: ([A-Z]+)/.exec(out)?.[1];
}

/** The flags of a full dig answer (`qr aa rd`). */
export function digFlags(out: string): string[] {
  return /flags: ([a-z ]+);/.exec(out)?.[1]?.trim().split(/\s+/) ?? [];
}

/** Records of one section of a dig answer, whitespace-normalised: `name. ttl IN TYPE data`. */
export function digSection(out: string, section: 'ANSWER' | 'AUTHORITY' | 'ADDITIONAL'): string[] {
  const m = new RegExp(`;; ${section} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out);
  if (!m) return [];
  return m[1]!.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.trim().split(/\s+/).join(' '));
}

/** `busybox nslookup [-type=T] NAME 127.0.0.1:PORT`. */
export function nslookup(port: number, name: string, type?: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile('busybox', ['nslookup', ...(type ? [`-type=${type}`] : []), name, `127.0.0.1:${port}`], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout + stderr });
    });
  });
}
