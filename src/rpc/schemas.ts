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
      const name = relative(schemasDir, path).replace(/\\/g, '/').replace(/\.json$/, '');
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

  compile(schema: JsonSchema): ValidateFunction {
    return this.ajv.compile(schema);
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
