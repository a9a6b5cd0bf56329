// Building the page without markup: every element is made with
// createElement and every value goes in as a text node, so nothing the API
// returns is ever parsed as HTML. (The Content-Security-Policy forbids inline
// script and style as a second line; this module is the first.)

/**
 * h makes an element. attrs: "class", "text" (textContent), "on<event>"
 * (a listener), "hidden"/"disabled"/… (booleans), "dataset" (an object), and
 * any other attribute set with setAttribute. children: nodes, strings
 * (as text), arrays of them, and null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') {
      el.className = value;
    } else if (name === 'text') {
      el.textContent = value;
    } else if (name === 'dataset') {
      for (const [k, v] of Object.entries(value)) {
        if (v !== null && v !== undefined) el.dataset[k] = v;
      }
    } else if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else if (name === 'style') {
      throw new Error('inline styles are not allowed by the page policy');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (nodes, strings as text, nested arrays) to el. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) {
      append(el, c);
    } else if (c instanceof Node) {
      el.appendChild(c);
    } else {
      el.appendChild(document.createTextNode(String(c)));
    }
  }
  return el;
}

/** replace empties el and gives it the children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** $ finds an element by id; a missing one is a bug of the page. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error('no element #' + id);
  return el;
}

let nextId = 0;

/** uid returns a fresh element id with the prefix. */
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}
