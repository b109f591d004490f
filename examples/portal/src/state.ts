import { createClient, localStorageStorage, type ResultOf, type SessionEndReason } from '@billing-auth/client';
import type { PortalConfig } from './config.js';

export type Client = ReturnType<typeof createClient>;

/** A new key for an authenticator app: `secret`, `otpauth_uri`, `qr_code_png`, `qr_code_svg`. */
export type Enrollment = ResultOf<'TwoFactor/start_enrollment'>['enrollment'];

/**
 * The portal's state. Only the client's tokens are persisted (in
 * localStorage, so a reload keeps the session); everything else here is a
 * secret of one step of a sign-in (the mfa_token, a new key, the password
 * just typed, recovery codes shown once) and lives in memory only: a reload
 * forgets it and the user starts that step again.
 */
export interface State {
  config: PortalConfig;
  client: Client;
  /** A sign-in waiting for its second factor. */
  pending?: { mfaToken: string; login: string; enrollment?: Enrollment; expiresAt: string };
  /** The password typed at sign-in, for a forced change right after it; dropped once used. */
  password?: string;
  /** Recovery codes to show once, and where to go after. */
  recoveryCodes?: { codes: string[]; next: string };
  /** A message for the next page (e.g. why the user is back at sign-in). */
  notice?: string;
}

export function createState(config: PortalConfig, onSessionEnded: (reason: SessionEndReason) => void): State {
  const client = createClient({ baseUrl: config.apiBaseUrl, storage: localStorageStorage(), onSessionEnded });
  return { config, client };
}
