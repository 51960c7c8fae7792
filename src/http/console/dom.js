// Building the page from API data: every value becomes a text node, never markup.

/** An element with attributes and children; strings and numbers become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `node` shows. */
export function show(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** A table from column headings and rows of cells. */
export function table(headings, rows, attrs = {}) {
  return el('table', attrs,
    el('thead', {}, el('tr', {}, headings.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows));
}

/** A definition list of [term, value] pairs, skipping empty values. */
export function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs
    .filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

export const byId = (id) => document.getElementById(id);

/** Shows an API problem (or any error) in the error line; `null` clears it. */
export function report(err) {
  const line = byId('error');
  line.hidden = !err;
  show(line, err ? err.message : '');
}
