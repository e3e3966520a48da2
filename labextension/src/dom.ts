/**
 * Tiny DOM builders. Every user-controlled string becomes a text node (never innerHTML), so
 * names like `<img onerror=...>` are shown, not run.
 */

export type Child = Node | string | number | null | undefined | false;
type Attr = string | number | boolean | null | undefined | ((event: Event) => void);

function apply(element: Element, attrs: Record<string, Attr>): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      element.addEventListener(key.replace(/^on/, ''), value);
    } else if (key === 'class') {
      element.setAttribute('class', String(value));
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** Append children (text for strings; null/false skipped). */
export function append(element: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    element.appendChild(
      typeof child === 'string' || typeof child === 'number'
        ? document.createTextNode(String(child))
        : child
    );
  }
}

/** `h('td', {class: 'x', onclick: fn}, 'text', otherNode)` */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  apply(element, attrs);
  append(element, ...children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes. */
export function s(tag: string, attrs: Record<string, Attr> = {}, ...children: Child[]): SVGElement {
  const element = document.createElementNS(SVG_NS, tag) as SVGElement;
  apply(element, attrs);
  append(element, ...children);
  return element;
}

/** Replace all children of `element`. */
export function fill(element: Element, ...children: Child[]): void {
  element.replaceChildren();
  append(element, ...children);
}

/** A `<table>` with a header row and body rows of cells. */
export function table(
  className: string,
  headers: string[],
  rows: Child[][],
  rowAttrs: (index: number) => Record<string, Attr> = () => ({})
): HTMLTableElement {
  return h(
    'table',
    { class: `mlops-table ${className}` },
    h('thead', {}, h('tr', {}, ...headers.map(name => h('th', {}, name)))),
    h('tbody', {}, ...rows.map((cells, i) => h('tr', rowAttrs(i), ...cells.map(c => h('td', {}, c)))))
  );
}

/** A collapsible section that remembers whether the user closed it. */
export function section(
  title: string,
  open: Map<string, boolean>,
  ...children: Child[]
): HTMLDetailsElement {
  const details = h(
    'details',
    { class: 'mlops-section', open: open.get(title) ?? true },
    h('summary', {}, title),
    ...children
  );
  details.addEventListener('toggle', () => open.set(title, details.open));
  return details;
}

/** A message line: `muted` for empty states, `error` for failures. */
export function note(text: string, kind: 'muted' | 'error' | 'warn' = 'muted'): HTMLElement {
  return h('div', { class: `mlops-note mlops-note-${kind}` }, text);
}
