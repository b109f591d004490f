import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { addPortalClient, revokePortalClient } from '../auth/portal-clients.js';
import { CLI_ACTOR, withApp } from './with-app.js';

/**
 * Params checked by the method's own schema (schemas/PortalClient/), so the
 * console accepts exactly what the admin API does. False (and a message,
 * exit 1) when they do not fit.
 */
function fits(app: FastifyInstance, method: string, params: Record<string, unknown>): boolean {
  const validate = app.methods.get(method)?.validateParams;
  if (!validate) throw new Error(`no method ${method}`);
  if (validate(params)) return true;
  console.error(`refused: ${(validate.errors ?? []).map((e) => `${e.instancePath.slice(1) || 'params'} ${e.message ?? 'is not valid'}`).join('; ')}`);
  process.exitCode = 1;
  return false;
}

/**
 * `billing-auth portal-client ...`: the console route to the credentials of
 * trusted portal servers (see PortalClient/* in the admin API). Creating and
 * revoking are audited with actor realm `cli`.
 */
export function registerPortalClientCommands(program: Command): void {
  const portalClient = program.command('portal-client').description('credentials that let a portal server name its end users’ IPs (X-Portal-Client)');

  portalClient
    .command('add')
    .description('create a portal client; prints its id and secret (shown once, only its hash is stored)')
    .argument('<name>', 'what the portal is, for the list and the audit log')
    .action(async (name: string) => {
      await withApp(async (app) => {
        if (!fits(app, 'PortalClient/add_portal_client', { name })) return;
        const { portal_client_id, secret } = await addPortalClient(app, name, CLI_ACTOR);
        console.log(`portal_client_id: ${portal_client_id}`);
        console.log(`secret: ${secret}`);
        console.log(`The portal sends "X-Portal-Client: ${portal_client_id}:${secret}". The secret is shown only now.`);
      });
    });

  portalClient
    .command('list')
    .description('the portal clients, newest first (tab-separated: id, created, revoked or "live", name)')
    .option('--all', 'revoked ones too', false)
    .action(async (opts: { all: boolean }) => {
      await withApp(async (app) => {
        const { rows } = await app.repos.portalClients.list({ limit: 1_000_000_000, offset: 0, include_revoked: opts.all, withTotal: false });
        const iso = (ms: number | string) => new Date(Number(ms)).toISOString();
        for (const r of rows)
          console.log([r.portal_client_id, iso(r.created_at), r.revoked_at === null ? 'live' : `revoked ${iso(r.revoked_at)}`, r.name].join('\t'));
        if (rows.length === 0) console.error(opts.all ? 'no portal clients' : 'no live portal clients');
      });
    });

  portalClient
    .command('revoke')
    .description('revoke a portal client: its credential stops working at once on every replica')
    .argument('<portal_client_id>', 'as `list` shows it')
    .action(async (id: string) => {
      await withApp(async (app) => {
        if (!fits(app, 'PortalClient/revoke_portal_client', { portal_client_id: id })) return;
        const revoked = await revokePortalClient(app, id, CLI_ACTOR);
        if (!revoked) {
          console.error(`no live portal client ${id}; nothing changed`);
          process.exitCode = 1;
          return;
        }
        console.log(`${id} ("${revoked.name}") revoked.`);
      });
    });
}
