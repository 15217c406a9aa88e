// Static bearer tokens (--token-auth-file): a CSV of `token,user,uid[,"group1,group2"]`, read with the
// rules of Go's encoding/csv as upstream does (quotes, "" escapes, no trimming, no comments).
import { readFile } from 'node:fs/promises';
import { logger } from '../../util/log.js';
import type { AuthResult, TokenAuthenticator, UserInfo } from './types.js';
import { withAuthenticatedGroup } from './types.js';

export const TOKEN_FILE_AUTHENTICATOR = 'tokenfile';
const log = logger('authn');

export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
  readonly code = 'InvalidTokenFile' as const;
}

/**
 * Go encoding/csv with FieldsPerRecord = -1: records end at \n (a \r before it is dropped), empty lines are
 * skipped, a field starting with `"` is quoted (may hold commas and newlines, `""` is a quote), a `"`
 * inside an unquoted field is an error. Returns the records with the line each starts on.
 */
export function parseCSV(text: string): Array<{ line: number; fields: string[] }> {
  const records: Array<{ line: number; fields: string[] }> = [];
  const s = text.replace(/\r\n/g, '\n');
  let i = 0;
  let line = 1;
  const err = (col: number, what: string, startLine: number): TokenFileError =>
    new TokenFileError(startLine === line ? `parse error on line ${line}, column ${col}: ${what}` : `record on line ${startLine}; parse error on line ${line}, column ${col}: ${what}`);
  while (i < s.length) {
    if (s[i] === '\n') {
      i++;
      line++;
      continue; // empty line
    }
    const startLine = line;
    let lineStart = i;
    const fields: string[] = [];
    for (;;) {
      if (s[i] === '"') {
        let value = '';
        i++;
        for (;;) {
          const q = s.indexOf('"', i);
          if (q < 0) throw err(s.length - lineStart + 1, 'extraneous or missing " in quoted-field', startLine);
          const chunk = s.slice(i, q);
          for (const ch of chunk) if (ch === '\n') line++;
          const lastNL = chunk.lastIndexOf('\n');
          if (lastNL >= 0) lineStart = i + lastNL + 1;
          value += chunk;
          i = q + 1;
          if (s[i] === '"') {
            value += '"';
            i++;
            continue;
          }
          if (i >= s.length || s[i] === ',' || s[i] === '\n') break;
          throw err(i - lineStart + 1, 'extraneous or missing " in quoted-field', startLine);
        }
        fields.push(value);
      } else {
        let j = i;
        while (j < s.length && s[j] !== ',' && s[j] !== '\n') {
          if (s[j] === '"') throw err(j - lineStart + 1, 'bare " in non-quoted-field', startLine);
          j++;
        }
        fields.push(s.slice(i, j));
        i = j;
      }
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === '\n') {
        i++;
        line++;
      }
      break;
    }
    records.push({ line: startLine, fields });
  }
  return records;
}

/** The users of a token file by token. Upstream's first-column rules: an empty token is skipped, a duplicate replaces the earlier one. */
export function parseTokenFile(text: string, path = 'token file'): Map<string, UserInfo> {
  const users = new Map<string, UserInfo>();
  let recordNum = 0;
  for (const { fields } of parseCSV(text)) {
    if (fields.length < 3) {
      throw new TokenFileError(`token file '${path}' must have at least 3 columns (token, user name, user uid), found ${fields.length}`);
    }
    recordNum++;
    const [token = '', name = '', uid = '', groups] = fields;
    if (token === '') {
      log.warn({ path, record: recordNum }, 'empty token has been found in token file');
      continue;
    }
    if (users.has(token)) log.warn({ path, record: recordNum }, 'duplicate token has been found in token file');
    // upstream splits column 4 on commas and would keep an empty group name; we drop empty names.
    const user: UserInfo = { name, groups: groups === undefined ? [] : groups.split(',').filter((g) => g !== '') };
    if (uid) user.uid = uid;
    users.set(token, user);
  }
  return users;
}

/** A TokenAuthenticator over a parsed token file; unknown tokens get "no opinion". */
export function tokenFileAuthenticator(users: ReadonlyMap<string, UserInfo>): TokenAuthenticator {
  return {
    async authenticateToken(token: string): Promise<AuthResult> {
      const user = users.get(token);
      if (!user) return undefined;
      return { ok: true, user: withAuthenticatedGroup({ ...user, groups: [...user.groups] }), authenticator: TOKEN_FILE_AUTHENTICATOR };
    },
  };
}

/** Reads --token-auth-file once (upstream does not reload it either). */
export async function loadTokenFile(path: string): Promise<TokenAuthenticator> {
  return tokenFileAuthenticator(parseTokenFile(await readFile(path, 'utf8'), path));
}
