/** Per call. */
export interface CallOptions {
  /** Cancels the call (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /**
   * Extra request headers for this call only, e.g. `X-End-User-IP` from a portal's server that
   * holds a portal client credential (never from a browser: see the service's README).
   */
  headers?: Record<string, string>;
}
