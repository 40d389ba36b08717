// Small DOM helpers: elements are built with textContent only (never parsed as markup), so nothing
// the server sends can become markup, and no inline style is ever set from here.
export function $(selector) {
  const element = document.querySelector(selector)
  if (!element) throw new Error(`missing element ${selector}`)
  return element
}

/** h('td', { className: 'num', dataset: { runId } }, 'text', childElement) */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue
    if (name === 'dataset') Object.assign(element.dataset, value)
    else if (name === 'className') element.className = value
    else if (name.startsWith('on')) element.addEventListener(name.slice(2).toLowerCase(), value)
    else if (name in element && typeof value !== 'string') element[name] = value
    else element.setAttribute(name, String(value))
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    element.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return element
}

export function replaceChildren(element, ...children) {
  element.replaceChildren(...children.flat().filter((child) => child !== undefined && child !== null && child !== false))
}

export function show(element, visible) {
  element.hidden = !visible
}

/** A definition list's items: [[label, value], ...]. */
export function facts(pairs) {
  return pairs.flatMap(([label, value, className]) => [h('dt', {}, label), h('dd', className ? { className } : {}, value)])
}
