import { Fault } from './faults.js';

/**
 * Keyset (cursor) paging. A cursor is the base64url of the last row's order key
 * (JSON: the order's name, then its columns' values): the next page starts
 * strictly after that key, so rows inserted or deleted meanwhile never shift
 * it (unlike `offset`, which also reads and throws away every skipped row).
 * A cursor is validated before use; it is not a secret and not signed: an
 * edited cursor can only name another position in a list the caller may read.
 */
export type KeyPart = 'int' | 'string';
export type CursorKey = Array<number | string>;

/** Paging after validation: the schema defaults (limit 100, offset 0) are applied. */
export interface Page {
  limit: number;
  offset: number;
  /** The decoded order key to start after. */
  after?: CursorKey;
  withTotal: boolean;
}

export interface PageParams {
  limit?: number;
  offset?: number;
  cursor?: string;
  with_total?: boolean;
}

const MAX_STRING = 256;

function invalidCursor(problem: string): Fault {
  return new Fault('Client.Request.invalid_params', `Invalid params: ${problem}`, {
    errors: [{ path: '/cursor', keyword: 'cursor', message: problem, params: {} }],
  });
}

export function encodeCursor(order: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify([order, ...key]), 'utf8').toString('base64url');
}

/** The key a cursor holds, if it is one this list (ordered by `order`, keyed by `shape`) handed out; else the invalid_params fault. */
export function decodeCursor(cursor: string, order: string, shape: readonly KeyPart[]): CursorKey {
  const bad = invalidCursor('cursor is not a next_cursor of this list with these filters');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  if (!Array.isArray(parsed) || parsed.length !== shape.length + 1 || parsed[0] !== order) throw bad;
  const key = parsed.slice(1) as unknown[];
  key.forEach((v, i) => {
    const ok = shape[i] === 'int' ? Number.isSafeInteger(v) : typeof v === 'string' && v.length <= MAX_STRING;
    if (!ok) throw bad;
  });
  return key as CursorKey;
}

/**
 * The page a list method's params ask for. `order`/`shape` name the order the
 * list uses for these params (a cursor from another order, e.g. of the same
 * list with a prefix, is refused). A cursor and a non-zero offset together are
 * refused: the cursor already says where to start.
 */
export function page(params: PageParams, order = 'default', shape: readonly KeyPart[] = []): Page {
  const limit = params.limit ?? 100;
  const offset = params.offset ?? 0;
  const withTotal = params.with_total ?? false;
  if (params.cursor === undefined) return { limit, offset, withTotal };
  if (offset !== 0) throw invalidCursor('give cursor or offset, not both');
  return { limit, offset, withTotal, after: decodeCursor(params.cursor, order, shape) };
}

/** The cursor of the page after this one: the last row's key when more rows follow, else null. */
export function nextCursor<R>(rows: R[], more: boolean, order: string, keyOf: (row: R) => CursorKey): string | null {
  const last = rows[rows.length - 1];
  return more && last !== undefined ? encodeCursor(order, keyOf(last)) : null;
}

/** `next_cursor`, and `total` only when asked for (counting every match is what makes deep lists slow). */
export function pageResult(next_cursor: string | null, total: number | undefined): { next_cursor: string | null; total?: number } {
  return total === undefined ? { next_cursor } : { next_cursor, total };
}
