import { defineMethod } from '../../rpc/registry.js';

export default defineMethod({
  name: 'rpc.discover',
  access: { kind: 'public' },
  async handler(_params: Record<string, never>, { app }) {
    return app.apiDocuments.openRpc();
  },
});
