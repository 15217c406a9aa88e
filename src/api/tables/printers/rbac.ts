// rbac.authorization.k8s.io printers for bindings: NAME ROLE AGE (wide: USERS GROUPS SERVICEACCOUNTS).
// Roles and cluster roles have no printer upstream and get the default NAME / CREATED AT table.
import type { ClusterRoleBinding, RoleBinding, Subject } from 'kubernetes-types/rbac/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer, wide } from '../printer.js';
import type { TableCell } from '../types.js';

/** Users, groups and service accounts (as namespace/name) among the subjects; other kinds are dropped. */
export function subjectCells(subjects: readonly Subject[] | undefined): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const serviceAccounts: string[] = [];
  for (const s of subjects ?? []) {
    if (s.kind === 'ServiceAccount') serviceAccounts.push(`${s.namespace ?? ''}/${s.name}`);
    else if (s.kind === 'User') users.push(s.name);
    else if (s.kind === 'Group') groups.push(s.name);
  }
  return [users.join(', '), groups.join(', '), serviceAccounts.join(', ')];
}

function bindingColumns(what: string) {
  return [
    NAME_COLUMN,
    column('Role', 'string', `The role the ${what} grants, as kind/name.`),
    AGE_COLUMN,
    wide('Users', 'string', `The users the ${what} names.`),
    wide('Groups', 'string', `The groups the ${what} names.`),
    wide('ServiceAccounts', 'string', `The service accounts the ${what} names, as namespace/name.`),
  ];
}

function printBinding(b: Readonly<RoleBinding | ClusterRoleBinding>, ctx: { now: Date }): TableCell[] {
  return [
    b.metadata?.name ?? '',
    `${b.roleRef?.kind ?? ''}/${b.roleRef?.name ?? ''}`,
    ageSince(b.metadata?.creationTimestamp, ctx.now),
    ...subjectCells(b.subjects),
  ];
}

export const roleBindingPrinter = printer<RoleBinding>(bindingColumns('role binding'), printBinding);
export const clusterRoleBindingPrinter = printer<ClusterRoleBinding>(bindingColumns('cluster role binding'), printBinding);
