import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CommandError, commandHelperPid, execCommand, runCommand } from '../../../src/util/commands.js';
import { processAlive } from '../../support/process.js';

describe('commands run by the helper process', () => {
  it('passes stdin, returns stdout, stderr and the exit status', async () => {
    const r = await runCommand('sh', ['-c', 'cat; echo oops >&2; exit 3'], { input: 'hello\n' });
    assert.equal(r.code, 3);
    assert.equal(r.signal, null);
    assert.equal(r.stdout.toString(), 'hello\n');
    assert.equal(r.stderr.toString(), 'oops\n');
  });

  it('uses the given environment and working directory', async () => {
    const r = await runCommand('sh', ['-c', 'echo "$GREETING $(pwd)"'], { env: { PATH: process.env.PATH, GREETING: 'hi' }, cwd: '/tmp' });
    assert.equal(r.stdout.toString().trim(), 'hi /tmp');
  });

  it('execCommand resolves text output on success and rejects with the stderr otherwise', async () => {
    assert.deepEqual(await execCommand('sh', ['-c', 'printf out; printf err >&2']), { stdout: 'out', stderr: 'err' });
    await assert.rejects(execCommand('sh', ['-c', 'echo bad mount >&2; exit 32']), (err: unknown) => {
      assert.ok(err instanceof CommandError);
      assert.equal(err.code, 32);
      assert.match(err.message, /^Command failed: sh -c .*\(exit status 32\)\nbad mount$/s);
      return true;
    });
  });

  it('a missing executable is an error, not an exit status', async () => {
    await assert.rejects(runCommand('/nonexistent/k8ts-no-such-binary', []), (err: unknown) => err instanceof CommandError && /ENOENT/.test(err.message));
  });

  it('the time limit kills the command', async () => {
    const r = await runCommand('sleep', ['30'], { timeoutMs: 100 });
    assert.equal(r.signal, 'SIGKILL');
  });

  it('an abort signal kills the command', async () => {
    const ac = new AbortController();
    const p = runCommand('sleep', ['30'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    assert.equal((await p).signal, 'SIGKILL');
    await assert.rejects(runCommand('true', [], { signal: ac.signal }), /aborted/);
  });

  it('many commands at once each get their own output', async () => {
    const rs = await Promise.all(Array.from({ length: 40 }, (_x, i) => execCommand('sh', ['-c', `echo ${i}`])));
    assert.deepEqual(rs.map((r) => r.stdout.trim()), Array.from({ length: 40 }, (_x, i) => String(i)));
  });

  it('a helper that dies fails its running commands, and the next command gets a new helper', async () => {
    const running = runCommand('sleep', ['5']);
    const pid = commandHelperPid();
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await assert.rejects(running, (err: unknown) => err instanceof CommandError && /the command helper exited \(SIGKILL\)/.test(err.message));
    assert.equal((await execCommand('sh', ['-c', 'echo again'])).stdout, 'again\n');
    assert.notEqual(commandHelperPid(), pid);
  });

  it('an idle helper keeps its parent from nothing, and leaves with it', async () => {
    // A separate Node process runs one command, reports what still holds its event loop, and ends.
    const module = fileURLToPath(new URL('../../../src/util/commands.js', import.meta.url));
    const script = `
      const { execCommand, commandHelperPid } = await import(${JSON.stringify(module)});
      await execCommand('true', []);
      const holding = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      console.log(JSON.stringify({ pid: commandHelperPid(), holding }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
    const { pid, holding } = JSON.parse(stdout) as { pid: number; holding: string[] };
    assert.ok(pid > 0);
    assert.deepEqual(holding.filter((r) => r === 'ChildProcess' || r === 'PipeWrap'), [], `still held by ${holding.join(', ')}`);
    // Its parent has exited: the helper sees its channel close and exits too.
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(processAlive(pid), false, `helper ${pid} outlived its parent`);
  });
});
