// Content negotiation: reading request bodies (JSON or YAML, with a size limit) and choosing the
// response form from Accept (plain JSON/YAML, a meta.k8s.io Table, or PartialObjectMetadata).
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { KUBERNETES_PROTOBUF_CONTENT_TYPE, ProtobufDecodeError, decodeKubernetesProtobuf } from '../api/protobuf/index.js';
import { StatusError, badRequest, notAcceptable, requestEntityTooLarge, unsupportedMediaType } from './status.js';

/** Upstream's limit on request bodies. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

const BODY_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw requestEntityTooLarge(MAX_BODY_BYTES);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw requestEntityTooLarge(MAX_BODY_BYTES);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Parses a body as JSON or YAML per Content-Type into a JSON value. */
export function decodeBody(body: Buffer, contentType: string | undefined, allowed: readonly string[] = BODY_TYPES): unknown {
  const type = mediaType(contentType) || 'application/json';
  if (!allowed.includes(type)) throw unsupportedMediaType(type, allowed.length > 0 ? [...allowed] : BODY_TYPES);
  if (type === KUBERNETES_PROTOBUF_CONTENT_TYPE) {
    // kubectl's typed clients (create namespace, create token, auth whoami, …) send protobuf.
    try {
      return decodeKubernetesProtobuf(body).object;
    } catch (err) {
      if (err instanceof ProtobufDecodeError) throw new StatusError(400, 'BadRequest', `the body of the request could not be decoded: ${err.message}`);
      throw err;
    }
  }
  const text = body.toString('utf8');
  if (text.trim() === '') throw badRequest('request body must not be empty');
  try {
    if (type.endsWith('yaml')) return parseYaml(text, { uniqueKeys: false, maxAliasCount: 100 });
    return JSON.parse(text);
  } catch (err) {
    throw new StatusError(400, 'BadRequest', `the body of the request could not be decoded: ${(err as Error).message.split('\n')[0]}`);
  }
}

export type ResponseForm = { form: 'object' | 'table' | 'partial'; yaml: boolean };

/**
 * Picks the response form. kubectl asks `application/json;as=Table;v=v1;g=meta.k8s.io, application/json`;
 * controllers ask PartialObjectMetadata; protobuf-only clients get 406.
 */
export function chooseResponse(accept: string | undefined): ResponseForm {
  if (!accept || accept.trim() === '') return { form: 'object', yaml: false };
  const offers = accept.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const p: Record<string, string> = {};
    for (const kv of params) {
      const [k, v] = kv.split('=');
      if (k && v) p[k.toLowerCase()] = v;
    }
    return { type: (type ?? '').toLowerCase(), p };
  });
  for (const o of offers) {
    const json = o.type === 'application/json' || o.type === '*/*' || o.type === 'application/*';
    const yaml = o.type === 'application/yaml';
    if (!json && !yaml) continue;
    if (o.p.as === undefined) return { form: 'object', yaml };
    if (o.p.g !== 'meta.k8s.io' || (o.p.v !== 'v1' && o.p.v !== undefined)) continue;
    if (o.p.as === 'Table') return { form: 'table', yaml };
    if (o.p.as === 'PartialObjectMetadata' || o.p.as === 'PartialObjectMetadataList') return { form: 'partial', yaml };
  }
  throw notAcceptable(['application/json', 'application/yaml', 'application/json;as=Table;v=v1;g=meta.k8s.io']);
}
