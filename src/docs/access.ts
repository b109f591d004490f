import type { Access } from '../rpc/registry.js';

export function accessText(access: Access): string {
  switch (access.kind) {
    case 'public':
      return access.session === 'optional'
        ? 'Access: public; an access token, when sent, is checked and tells whose call it is (a restricted session too).'
        : 'Access: public (no token).';
    case 'session':
      return `Access: any session${access.allowRestricted ? ', also one that must change its password' : ''}${access.denyImpersonated ? ', not an impersonated one' : ''}.`;
    case 'admin':
      return `Access: admin session${access.permission ? ` with permission \`${access.permission}\`` : ''}.`;
  }
}
