import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv2020, type ValidateFunction, type ErrorObject } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { schemasDir } from '../paths.js';

/** `$id` prefix of every schema file: `<base>Session/login.json`. */
export const SCHEMA_BASE = 'https://billing-auth.local/schemas/';

export type JsonSchema = Record<string, unknown>;

export interface SchemaFile {
  /** Path below schemas/ without `.json`, e.g. `Session/login`. */
  name: string;
  id: string;
  schema: JsonSchema;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return entry.name.endsWith('.json') ? [path] : [];
  });
}

function loadSchemaFiles(): SchemaFile[] {
  return walk(schemasDir)
    .sort()
    .map((path) => {
      const name = relative(schemasDir, path)
        .replace(/\\/g, '/')
        .replace(/\.json$/, '');
      const schema = JSON.parse(readFileSync(path, 'utf8')) as JsonSchema;
      const id = `${SCHEMA_BASE}${name}.json`;
      if (schema.$id !== id) throw new Error(`schemas/${name}.json must have "$id": "${id}"`);
      return { name, id, schema };
    });
}

/**
 * All of schemas/, loaded and compiled once per process. `summary` and
 * `x-*` annotations are documentation, so ajv is told they are keywords.
 */
class SchemaStore {
  readonly files: SchemaFile[];
  readonly ajv: Ajv2020;
  private readonly byName: Map<string, SchemaFile>;

  constructor() {
    this.files = loadSchemaFiles();
    this.byName = new Map(this.files.map((f) => [f.name, f]));
    this.ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, strictRequired: false });
    addFormats.default(this.ajv);
    this.ajv.addVocabulary(['summary', 'x-fault-codes', 'x-access']);
    for (const file of this.files) this.ajv.addSchema(file.schema);
  }

  file(name: string): SchemaFile {
    const file = this.byName.get(name);
    if (!file) throw new Error(`no schema file schemas/${name}.json`);
    return file;
  }

  /** `{ $ref }` to a definition inside a schema file. */
  ref(name: string, def?: string): JsonSchema {
    return { $ref: `${this.file(name).id}${def ? `#/$defs/${def}` : ''}` };
  }

  /** Compiled once per process: composed schemas carry an `$id`, which ajv accepts only once. */
  compile(schema: JsonSchema): ValidateFunction {
    if (typeof schema.$id === 'string') {
      const existing = this.ajv.getSchema(schema.$id);
      if (existing) return existing;
    }
    return this.ajv.compile(schema);
  }

  /** The schema at an absolute `<file id>#/json/pointer`, read from the loaded files (nothing is compiled). */
  private at(uri: string): JsonSchema {
    const [fileId, pointer = ''] = uri.split('#');
    const file = this.files.find((f) => f.id === fileId);
    if (!file) throw new Error(`unresolvable $ref ${uri}`);
    let node: unknown = file.schema;
    for (const raw of pointer.split('/').slice(1)) {
      const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      node = (node as Record<string, unknown> | undefined)?.[token];
    }
    if (typeof node !== 'object' || node === null) throw new Error(`unresolvable $ref ${uri}`);
    return node as JsonSchema;
  }

  /**
   * Follows `$ref`s to the schema object they name, returning it with the id
   * its own relative refs resolve against.
   */
  resolve(schema: JsonSchema, baseId: string = SCHEMA_BASE): { schema: JsonSchema; baseId: string } {
    let current = schema;
    let base = typeof schema.$id === 'string' ? new URL(schema.$id, baseId).toString() : baseId;
    for (let i = 0; i < 10 && typeof current.$ref === 'string'; i++) {
      const absolute = new URL(current.$ref, base).toString();
      current = this.at(absolute);
      base = absolute.split('#')[0] as string;
    }
    return { schema: current, baseId: base };
  }
}

let store: SchemaStore | undefined;

export function schemaStore(): SchemaStore {
  store ??= new SchemaStore();
  return store;
}

/** ajv errors as they reach callers in `error.data.errors`: no schema internals beyond the path. */
export function publicErrors(errors: ErrorObject[] | null | undefined): Array<Record<string, unknown>> {
  return (errors ?? []).map((e) => ({
    path: e.instancePath || '/',
    keyword: e.keyword,
    message: e.message,
    params: e.params,
  }));
}
