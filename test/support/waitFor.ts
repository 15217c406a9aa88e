// Polls until `fn` yields something other than false/undefined (errors count as "not yet"), then
// returns it; fails with the last error after `timeoutMs`.
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 25_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
