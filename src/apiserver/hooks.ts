// Wires the pure API modules (OpenAPI schemas, patching and server-side apply, table printers)
// into the handlers' hooks.
import { parse as parseYaml } from 'yaml';
import type { ResourceType } from '../api/catalog.js';
import { openapiV2, openapiV3, openapiV3Discovery, schemaFor, unknownFields } from '../api/openapi/index.js';
import { openapiV2Protobuf } from '../api/openapi/protobuf/index.js';
import {
  PatchError,
  applyConflictError,
  applyJsonPatch,
  applyMergePatch,
  serverSideApply,
  strategicMergePatch,
  updateManagedFields,
  type JsonObject,
} from '../api/patch/index.js';
import { customResourceTable, toTable } from '../api/tables/index.js';
import type { HandlerHooks, Obj, ResourceRequest } from './handlers.js';
import type { PatchType } from './negotiate.js';
import type { ApiServer } from './server.js';
import { StatusError, badRequest } from './status.js';
import type { K8sObject } from './watchCache.js';

type Hooks = Required<Pick<HandlerHooks, 'unknownFields' | 'patch' | 'manageFields' | 'table'>> & {
  openapi: { v2(): object; v2Protobuf(): Buffer; v3Index(): object; v3(path: string): object | undefined };
};

const apiVersionOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);

function patchFailure(err: unknown): never {
  if (err instanceof PatchError) {
    const s = err.toStatus();
    throw new StatusError(err.status, err.reason as StatusError['reason'], err.message, s.details);
  }
  throw err;
}

export function apiServerHooks(api: () => ApiServer): Hooks {
  const resources = () => api().resources;
  return {
    unknownFields: (type, obj) => unknownFields(type.group, type.version, type.kind, obj),

    patch(type: ResourceType, current: K8sObject | undefined, body: Buffer, patchType: PatchType, req: ResourceRequest): K8sObject {
      const schema = schemaFor(type.group, type.version, type.kind);
      const text = body.toString('utf8');
      try {
        switch (patchType) {
          case 'application/json-patch+json':
            return applyJsonPatch(current as JsonObject, parseJson(text)) as K8sObject;
          case 'application/merge-patch+json':
            return applyMergePatch(current as JsonObject, parseJson(text)) as K8sObject;
          case 'application/strategic-merge-patch+json':
            return strategicMergePatch(current as JsonObject, parseJson(text), schema) as K8sObject;
          case 'application/apply-patch+yaml': {
            let applied: unknown;
            try {
              applied = parseYaml(text, { maxAliasCount: 100 });
            } catch (err) {
              throw badRequest(`error decoding YAML: ${(err as Error).message.split('\n')[0]}`);
            }
            if (!applied || typeof applied !== 'object' || Array.isArray(applied)) throw badRequest('the applied configuration must be an object');
            const a = applied as Obj;
            if (a.apiVersion !== apiVersionOf(type) || a.kind !== type.kind) {
              throw badRequest(`the applied configuration has apiVersion ${a.apiVersion} kind ${a.kind}, expected ${apiVersionOf(type)} ${type.kind}`);
            }
            const force = req.query.get('force') === 'true';
            const r = serverSideApply({
              live: current as JsonObject | undefined,
              applied: a as JsonObject,
              manager: req.query.get('fieldManager') ?? '',
              force,
              schema,
              now: new Date(),
              apiVersion: apiVersionOf(type),
              subresource: req.subresource,
            });
            if (!r.ok) patchFailure(applyConflictError(r.conflicts));
            const obj = r.object as K8sObject;
            obj.metadata ??= {};
            obj.metadata.managedFields = r.managedFields;
            return obj;
          }
        }
      } catch (err) {
        return patchFailure(err);
      }
    },

    manageFields(type, before, after, manager) {
      const schema = schemaFor(type.group, type.version, type.kind);
      const r = updateManagedFields({
        live: before as JsonObject | undefined,
        updated: after as JsonObject,
        manager,
        apiVersion: apiVersionOf(type),
        now: new Date(),
        schema,
      });
      after.metadata.managedFields = r.managedFields.length > 0 ? r.managedFields : undefined;
    },

    table(type, objects, includeHeaders) {
      const opts = { now: new Date(), noHeaders: !includeHeaders };
      if (type.custom) return customResourceTable(type.custom.printerColumns as Parameters<typeof customResourceTable>[0], objects, opts) as unknown as Obj;
      return toTable({ group: type.group, kind: type.kind }, objects, opts) as unknown as Obj;
    },

    openapi: {
      v2: () => openapiV2(resources()),
      v2Protobuf: () => openapiV2Protobuf(resources()).body,
      v3Index: () => openapiV3Discovery(resources()),
      v3: (path) => openapiV3(path, resources()),
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}
