/** Attributes of {@link h}: `on*` functions become listeners, everything else an attribute. */
export type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>

/** Creates an element: `h('button', { class: 'x', onclick: fn }, 'Label')`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(key.slice(2), value)
    else if (value === true) el.setAttribute(key, '')
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, String(value))
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child)
  return el
}

/** Replaces the children of `el` with `children`. */
export function replace(el: Element, ...children: (Node | string | null | false)[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== false))
}
