import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, execCommand, runCommand } from '../../../src/util/commands.js';

describe('commands run from the worker thread', () => {
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
});
