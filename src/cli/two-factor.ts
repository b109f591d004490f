import { Option, type Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { clearLoginGuard } from '../auth/guard.js';
import { removeTwoFactor, requires2fa } from '../auth/two-factor.js';
import { notify } from '../notifications/notify.js';
import { entityOfRealm, REALMS, type EntityDescriptor } from '../entities/descriptors.js';
import type { Row } from '../repositories/entities.js';
import { CLI_ACTOR, withApp } from './with-app.js';
import { retryingTransaction } from '../repositories/writer.js';

interface Target {
  realm: string;
  login: string;
}

interface Principal {
  d: EntityDescriptor;
  id: number;
  row: Row;
}

async function findPrincipal(app: FastifyInstance, target: Target): Promise<Principal | undefined> {
  const d = entityOfRealm(target.realm);
  if (!d) return undefined;
  const row = await app.repos.entities[d.name].findByLogin(target.login);
  return row ? { d, id: Number(row[d.idField]), row } : undefined;
}

function unknownLogin(target: Target): void {
  console.error(`no principal with login "${target.login}" in realm ${target.realm}`);
  process.exitCode = 1;
}

const targetOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('--realm <realm>', 'realm of the principal').choices(REALMS).makeOptionMandatory())
    .requiredOption('--login <login>', 'login of the principal (any case)');

/**
 * `billing-auth 2fa ...`: the console route for someone who lost their
 * authenticator and their recovery codes (seed: "the administrator resets it
 * from the console"). Both commands are audited with actor realm `cli`.
 */
export function registerTwoFactorCommands(program: Command): void {
  const twoFactor = program.command('2fa').description('two-factor authentication of one principal, for lost access');

  targetOptions(
    twoFactor
      .command('reset')
      .description('remove the TOTP key, recovery codes and pending login challenges; the next login enrolls a new key (if the policy requires 2FA)'),
  ).action(async (target: Target) => {
    await withApp(async (app) => {
      const p = await findPrincipal(app, target);
      if (!p) return unknownLogin(target);
      const hadKey = await retryingTransaction(app.db, async (trx) => {
        const removed = await removeTwoFactor(app, target.realm, p.id, trx);
        await app.repos.audit.record(
          { ...CLI_ACTOR, event: 'two_factor.reset_cli', realm: target.realm, entity: p.d.name, entity_id: p.id, details: { had_key: removed } },
          app.clock.now(),
          trx,
        );
        if (removed) await notify(app, { kind: 'two_factor_reset', realm: target.realm, principalId: p.id, row: p.row }, trx);
        return removed;
      });
      // Codes tried in vain against the lost key should not keep the login locked.
      await clearLoginGuard(app, target.realm, String(p.row.login_key));
      console.log(
        `${target.realm} "${String(p.row.login)}": ${hadKey ? 'TOTP key, recovery codes and pending challenges removed' : 'had no TOTP key; recovery codes and pending challenges removed'}.`,
      );
      console.log(
        (await requires2fa(app, target.realm, p.row))
          ? 'The policy requires 2FA: the next login enrolls a new key.'
          : 'The next login needs only the password.',
      );
    });
  });

  targetOptions(
    twoFactor
      .command('disable')
      .description('switch off 2FA for the principal: remove its key and recovery codes (refused while the policy requires 2FA, unless --force)')
      .option('--force', "also when the policy requires 2FA: sets the principal's own two_factor_auth setting off until an admin changes it", false),
  ).action(async (opts: Target & { force: boolean }) => {
    await withApp(async (app) => {
      const p = await findPrincipal(app, opts);
      if (!p) return unknownLogin(opts);
      const required = await requires2fa(app, opts.realm, p.row);
      if (required && !opts.force) {
        console.error(
          `2FA is required by policy for ${opts.realm} "${String(p.row.login)}" (its own setting, its customer's or its customer class's); nothing changed.\n` +
            `Use "2fa reset" to let it enroll a new key at the next login, or add --force to switch its own setting off.`,
        );
        process.exitCode = 1;
        return;
      }
      // Admin users have an on/off flag; every other realm an enabled/disabled (or inherit) setting.
      const override = p.d.twoFactor === 'boolean' ? false : 'disabled';
      const hadKey = await retryingTransaction(app.db, async (trx) => {
        const now = app.clock.now();
        const removed = await removeTwoFactor(app, opts.realm, p.id, trx);
        if (opts.force) await app.repos.entities[p.d.name].update(p.id, { two_factor_auth: override, updated_at: now }, trx);
        await app.repos.audit.record(
          {
            ...CLI_ACTOR,
            event: 'two_factor.disable_cli',
            realm: opts.realm,
            entity: p.d.name,
            entity_id: p.id,
            details: { had_key: removed, required_by_policy: required, forced: opts.force, ...(opts.force ? { two_factor_auth: override } : {}) },
          },
          now,
          trx,
        );
        if (removed) await notify(app, { kind: 'two_factor_disabled', realm: opts.realm, principalId: p.id, row: p.row }, trx);
        return removed;
      });
      await clearLoginGuard(app, opts.realm, String(p.row.login_key));
      console.log(`${opts.realm} "${String(p.row.login)}": 2FA disabled${hadKey ? '' : ' (there was no TOTP key)'}; the next login needs only the password.`);
      if (opts.force) console.log(`Its own two_factor_auth is now ${JSON.stringify(override)}: an admin can switch it back with the admin API.`);
    });
  });
}
