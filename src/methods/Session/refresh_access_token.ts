import type { IssuedSession } from '../../plugins/sessions.js';
import { defineMethod } from '../../rpc/registry.js';
import { originOf } from '../shared/audit.js';

type Result = ({ status: 'authenticated' } & IssuedSession) | ({ status: 'password_change_required'; reason: 'must_change' } & IssuedSession);

export default defineMethod<{ refresh_token: string }, Result>({
  name: 'Session/refresh_access_token',
  access: { kind: 'public' },
  faults: ['Server.Session.refresh_token_invalid'],
  async handler(params, ctx) {
    const { restricted, ...session } = await ctx.app.sessions.refresh(params.refresh_token, originOf(ctx), ctx.tokenStyle);
    // A restricted session stays restricted until Session/change_password lifts it.
    return restricted ? { status: 'password_change_required', reason: 'must_change', ...session } : { status: 'authenticated', ...session };
  },
});
