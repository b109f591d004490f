/**
 * A few DOM helpers. Text always goes in as text nodes (never innerHTML), so
 * nothing the service or a user sends can become markup.
 */
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

let fieldSeq = 0;

/** A labelled input: the label's `for` names the input, so screen readers and tests find it by its label. */
export function field(label: string, attrs: Attrs & { name: string }, hint?: string): { wrap: HTMLElement; input: HTMLInputElement } {
  const id = `f-${attrs.name}-${++fieldSeq}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h('input', { id, 'aria-describedby': hintId, ...attrs });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
  return { wrap, input };
}

/** A code field for a 6-digit authenticator code (one-time-code lets phones offer a code they received). */
export function codeField(label = 'Code from your authenticator app'): { wrap: HTMLElement; input: HTMLInputElement } {
  return field(label, { name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', required: true }, '6 digits; it changes every 30 seconds.');
}

/** The region where a form reports what went wrong: role=alert is read out as soon as it changes. */
export function alertBox(): HTMLElement & { show(...lines: Child[]): void; clear(): void } {
  const box = h('div', { class: 'alert', role: 'alert', hidden: true }) as unknown as HTMLElement & { show(...lines: Child[]): void; clear(): void };
  box.show = (...lines: Child[]) => {
    box.replaceChildren(...lines.filter((l): l is Node | string => Boolean(l)));
    box.hidden = false;
  };
  box.clear = () => {
    box.replaceChildren();
    box.hidden = true;
  };
  return box;
}

/** A form whose submit runs `onSubmit` once at a time, with its button disabled meanwhile. */
export function form(attrs: Attrs, onSubmit: (form: HTMLFormElement) => Promise<void>, ...children: Child[]): HTMLFormElement {
  const f = h('form', { novalidate: false, ...attrs }, ...children);
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const buttons = [...f.querySelectorAll('button')];
    if (f.dataset.busy) return;
    f.dataset.busy = '1';
    f.setAttribute('aria-busy', 'true');
    for (const b of buttons) b.disabled = true;
    onSubmit(f).finally(() => {
      delete f.dataset.busy;
      f.removeAttribute('aria-busy');
      for (const b of buttons) b.disabled = false;
    });
  });
  return f;
}

export function button(label: string, attrs: Attrs = {}): HTMLButtonElement {
  return h('button', { type: 'submit', ...attrs }, label);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
