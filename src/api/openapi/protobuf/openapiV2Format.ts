// Which form of /openapi/v2 a request's Accept header asks for, negotiated as upstream's
// kube-openapi handler does: the first clause (by quality, then specificity) that matches wins.

/** The Content-Type upstream answers protobuf requests with (for either accepted spelling). */
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** The media types served, in upstream's order of preference for wildcards. */
const SERVED: readonly (readonly [type: string, subtype: string, format: OpenAPIV2Format])[] = [
  ['application', 'json', 'json'],
  // The spelling kubectl and client-go send; not a valid media type, hence the newer one below.
  ['application', 'com.github.proto-openapi.spec.v2@v1.0+protobuf', 'protobuf'],
  ['application', 'com.github.proto-openapi.spec.v2.v1.0+protobuf', 'protobuf'],
];

export type OpenAPIV2Format = 'json' | 'protobuf';

interface AcceptClause {
  type: string;
  subtype: string;
  q: number;
  specificity: number;
}

function parseAccept(accept: string): AcceptClause[] {
  const clauses: AcceptClause[] = [];
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim());
    const slash = range.indexOf('/');
    const type = slash < 0 ? range : range.slice(0, slash);
    const subtype = slash < 0 ? '*' : range.slice(slash + 1);
    if (type === '') continue;
    const qParam = params.find((p) => /^q\s*=/i.test(p));
    const q = qParam === undefined ? 1 : Number(qParam.slice(qParam.indexOf('=') + 1));
    if (!(q > 0)) continue;
    clauses.push({ type, subtype, q, specificity: (type === '*' ? 0 : 1) + (subtype === '*' ? 0 : 1) });
  }
  // Array.prototype.sort is stable: equal clauses keep the client's order.
  return clauses.sort((a, b) => b.q - a.q || b.specificity - a.specificity);
}

/**
 * The form to serve /openapi/v2 in for this Accept header (absent or empty means any), or
 * undefined when nothing served is acceptable: answer 406, on which clients retry at
 * /swagger-2.0.0.pb-v1 (always protobuf).
 */
export function openapiV2FormatFor(accept: string | undefined): OpenAPIV2Format | undefined {
  for (const clause of parseAccept(accept?.trim() ? accept : '*/*')) {
    for (const [type, subtype, format] of SERVED) {
      if ((clause.type === type || clause.type === '*') && (clause.subtype === subtype || clause.subtype === '*')) return format;
    }
  }
  return undefined;
}
