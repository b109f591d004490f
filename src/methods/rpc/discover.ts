import { defineMethod } from '../../rpc/registry.js';
import { buildOpenRpc } from '../../docs/openrpc.js';

export default defineMethod({
  name: 'rpc.discover',
  access: { kind: 'public' },
  async handler(_params: Record<string, never>, { app }) {
    return buildOpenRpc(app.methods.list());
  },
});
