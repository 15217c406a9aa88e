// Printers for the API server's own bookkeeping kinds: storage versions (apiserverinternal.k8s.io) and
// storage version migrations (storagemigration.k8s.io).
import type { StorageVersion } from 'kubernetes-types/apiserverinternal/v1alpha1.js';
import type { StorageVersionMigration } from 'kubernetes-types/storagemigration/v1alpha1.js';
import { listWithMore } from '../format.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

const MAX_VERSIONS = 3;

export const storageVersionPrinter = printer<StorageVersion>(
  [
    NAME_COLUMN,
    column('CommonEncodingVersion', 'string', 'The encoding version every API server agrees on, if any.'),
    column('StorageVersions', 'string', 'Each API server’s encoding version, as id=version.'),
    AGE_COLUMN,
  ],
  (sv, ctx) => {
    const versions = (sv.status?.storageVersions ?? []).map((v) => `${v.apiServerID ?? ''}=${v.encodingVersion ?? ''}`);
    return [
      sv.metadata?.name ?? '',
      sv.status?.commonEncodingVersion ?? '<unset>',
      listWithMore(versions, versions.length, MAX_VERSIONS),
      ageSince(sv.metadata?.creationTimestamp, ctx.now),
    ];
  },
);

export const storageVersionMigrationPrinter = printer<StorageVersionMigration>(
  [
    // Upstream gives this Name column no "name" format.
    column('Name', 'string', 'The name of the migration.'),
    column('Resource', 'string', 'The resource to migrate, as resource.version.group.'),
  ],
  (m) => {
    const r = m.spec?.resource;
    return [m.metadata?.name ?? '', `${r?.resource ?? ''}.${r?.version ?? ''}.${r?.group ?? ''}`];
  },
);
