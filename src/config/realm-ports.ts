import { REALMS, type Realm } from '../entities/descriptors.js';
import type { RealmPort } from './schema.js';

/**
 * `PORTABILLING_PORTS`: `realm:port` pairs separated by commas (`account:8445,customer:8444`).
 * Each realm and each port at most once (a port serves one realm: the realm is
 * what the port means); `0` takes any free port, as `PORT` does. Throws with
 * what is wrong.
 */
export function parseRealmPorts(value: string): RealmPort[] {
  if (value.trim() === '') return [];
  const pairs = value.split(',').map((part) => {
    const match = /^\s*([a-z_]+)\s*:\s*(\d{1,5})\s*$/.exec(part);
    if (!match) throw new Error(`"${part.trim()}" is not realm:port`);
    const realm = match[1] as Realm;
    const port = Number(match[2]);
    if (!REALMS.includes(realm)) throw new Error(`unknown realm "${realm}" (one of ${REALMS.join(', ')})`);
    if (port > 65535) throw new Error(`port ${port} is above 65535`);
    return { realm, port };
  });
  for (const [i, p] of pairs.entries()) {
    if (pairs.findIndex((q) => q.realm === p.realm) !== i) throw new Error(`realm ${p.realm} is given twice`);
    if (p.port !== 0 && pairs.findIndex((q) => q.port === p.port) !== i) throw new Error(`port ${p.port} is given twice`);
  }
  return pairs;
}
