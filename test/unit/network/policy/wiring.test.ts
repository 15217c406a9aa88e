import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addNodeFlags, agentOptionsFrom, type NodeFlags } from '../../../../src/cli/agentCommand.js';
import { netpolTableName } from '../../../../src/network/policy/ruleset.js';

describe('NetworkPolicy node wiring', () => {
  const parse = (args: string[]) => addNodeFlags(new Command().exitOverride()).parse(['node', 'k8ts', ...args]).opts<NodeFlags>();
  it('enforces NetworkPolicy unless --disable-network-policy is given (k3s name)', () => {
    assert.equal(agentOptionsFrom(parse([])).disableNetworkPolicy, undefined);
    assert.equal(agentOptionsFrom(parse(['--disable-network-policy'])).disableNetworkPolicy, true);
  });
  const tables: [string, string | undefined, string][] = [
    ['the default bridge uses the plain table name', undefined, 'k8ts-netpol'],
    ['k8ts0 is the default bridge too', 'k8ts0', 'k8ts-netpol'],
    ['nodes on their own bridge (several on one host) get their own table', 'cni0', 'k8ts-netpol-cni0'],
  ];
  for (const [name, bridge, want] of tables) it(name, () => assert.equal(netpolTableName(bridge), want));
});
