import { h } from './dom.js';
import { violationWords } from './messages.js';

export interface PasswordPolicy {
  min_length: number;
  max_length: number;
  rules: Record<'latin' | 'digits' | 'lowercase' | 'uppercase' | 'special', 'must' | 'can' | 'cannot'>;
  expires_after_days: number | null;
}

const CLASSES = {
  latin: /[A-Za-z]/,
  digits: /[0-9]/,
  lowercase: /[a-z]/,
  uppercase: /[A-Z]/,
  special: /[!-/:-@[-`{-~]/,
} as const;

/**
 * The same rules the service checks (README "Passwords": every broken rule),
 * run as the user types so that every problem shows at once. The service
 * stays the judge: its `violations` are shown the same way.
 */
export function violations(policy: PasswordPolicy, password: string): string[] {
  const out: string[] = [];
  if (password.length < policy.min_length) out.push('min_length');
  if (password.length > policy.max_length) out.push('max_length');
  for (const [name, re] of Object.entries(CLASSES) as [keyof typeof CLASSES, RegExp][]) {
    const rule = policy.rules[name];
    if (rule === 'must' && !re.test(password)) out.push(`must_include_${name}`);
    if (rule === 'cannot' && re.test(password)) out.push(`cannot_include_${name}`);
  }
  if (/[^!-~]/.test(password)) out.push('invalid_characters');
  return out;
}

/** The rules as a list, each marked met or not for the password typed so far. */
export function policyChecklist(policy: PasswordPolicy): { el: HTMLElement; update(password: string): void } {
  const items: { code: string; li: HTMLLIElement }[] = [];
  const codes = ['min_length', ...Object.entries(policy.rules).flatMap(([name, rule]) => (rule === 'must' ? [`must_include_${name}`] : rule === 'cannot' ? [`cannot_include_${name}`] : [])), 'invalid_characters'];
  for (const code of codes) items.push({ code, li: h('li', { 'data-rule': code }, violationWords(code, policy)) });
  const list = h('ul', { class: 'checklist', 'aria-label': 'Password rules' }, ...items.map((i) => i.li));
  const note = policy.expires_after_days ? h('p', { class: 'hint' }, `Passwords expire after ${policy.expires_after_days} days.`) : null;
  const el = h('div', { class: 'policy' }, h('p', {}, 'Your new password:'), list, note);
  const update = (password: string) => {
    const broken = new Set(violations(policy, password));
    for (const { code, li } of items) {
      const ok = password.length > 0 && !broken.has(code);
      li.classList.toggle('ok', ok);
      li.setAttribute('aria-label', `${ok ? 'met' : 'not met'}: ${li.textContent ?? ''}`);
    }
  };
  update('');
  return { el, update };
}
