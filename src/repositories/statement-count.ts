/**
 * A count of the SQL statements this process sent, for `npm run bench`
 * (statements per call): knex's own (its `query` event, BEGIN and COMMIT
 * included), the point reader's and the SQLite writer's. Counting is one
 * integer increment; nothing reads it in production.
 */
let statements = 0;

export function countStatement(): void {
  statements++;
}

/** Statements sent since the process started. */
export function statementsSent(): number {
  return statements;
}
