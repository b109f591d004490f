import type { Access } from '../rpc/registry.js';

export function accessText(access: Access): string {
  switch (access.kind) {
    case 'public':
      return access.session === 'optional'
        ? "Access: public; an access token that authenticates (a restricted session's too) tells whose call it is, and one that does not is ignored."
        : 'Access: public (no token).';
    case 'session':
      return `Access: any session${access.allowRestricted ? ', also one that must change its password' : ''}${access.denyImpersonated ? ', not an impersonated one' : ''}.`;
    case 'admin':
      return `Access: admin session${access.permission ? ` with permission \`${access.permission}\`` : ''}.`;
  }
}
