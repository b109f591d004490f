import BetterSqlite3 from 'better-sqlite3';

/**
 * Another process holding the write lock of a SQLite file: takes it, says
 * "locked" on stdout, and commits when its stdin closes (or it is killed).
 * Usage: node --import tsx test/helpers/sqlite-lock.ts <file>
 */
const file = process.argv[2];
if (!file) throw new Error('usage: sqlite-lock.ts <file>');
const db = new BetterSqlite3(file, { fileMustExist: true });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
process.stdin.resume();
process.stdin.on('end', () => {
  db.exec('COMMIT');
  db.close();
});
