import type { Access } from '../rpc/registry.js';

export function accessText(access: Access): string {
  switch (access.kind) {
    case 'public':
      return 'Access: public (no token).';
    case 'session':
      return `Access: any session${access.allowRestricted ? ', also one that must change its password' : ''}${access.denyImpersonated ? ', not an impersonated one' : ''}.`;
    case 'admin':
      return `Access: admin session${access.permission ? ` with permission \`${access.permission}\`` : ''}.`;
  }
}
