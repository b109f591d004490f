import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { listenUrl } from '../config/public-url.js';
import { configSchema } from '../config/schema.js';
import { clientSources } from '../docs/client.js';
import { openApiYaml } from '../docs/openapi.js';
import { methodTypesSource } from '../docs/types.js';
import { allMethods } from '../methods/index.js';
import { packageRoot } from '../paths.js';
import { MethodRegistry } from '../rpc/registry.js';

export const methodTypesPath = join(packageRoot, 'src', 'rpc', 'generated', 'method-types.ts');

/** The server the committed openapi.yaml names: PUBLIC_URL's default under the default HOST and PORT. */
export const committedPublicUrl = listenUrl(configSchema.properties.HOST.default, configSchema.properties.PORT.default);

export function registeredMethods() {
  const registry = new MethodRegistry();
  for (const method of allMethods()) registry.add(method);
  return registry.list();
}

export function registerDocsCommands(program: Command): void {
  program
    .command('docs')
    .description('generated documents')
    .command('generate')
    .description('rewrite openapi.yaml, src/rpc/generated/method-types.ts and clients/typescript/src/generated/ from the method registry and schemas/')
    .action(async () => {
      const methods = registeredMethods();
      const path = join(packageRoot, 'openapi.yaml');
      writeFileSync(path, openApiYaml(methods, committedPublicUrl));
      console.log(`wrote ${path}`);
      writeFileSync(methodTypesPath, await methodTypesSource(methods));
      console.log(`wrote ${methodTypesPath}`);
      for (const [file, source] of Object.entries(await clientSources(methods))) {
        writeFileSync(file, source);
        console.log(`wrote ${file}`);
      }
    });
}
