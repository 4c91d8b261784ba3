// A tiny element builder: h('button', { class: 'primary', onclick }, 'Save').
// Text always goes in as text nodes, never as HTML, so nothing a store,
// a document or a model wrote can become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      for (const [name, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[name] = v;
    } else if (key === 'value' || key === 'checked' || key === 'disabled') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replaces an element's contents.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// An SVG element (charts).
export function s(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// A short message in the corner, read out by screen readers.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const item = h('div', { class: `toast ${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), 6000);
}

// An error as the merchant reads it: the message, and the request id to
// quote to support.
export function errorBox(error) {
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, error.message || String(error)),
    error.requestId ? h('span', { class: 'request-id' }, ` (request ${error.requestId})`) : null);
}

// A labelled form field.
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', {}, hint) : null);
}

// A status chip.
export function badge(status) {
  return h('span', { class: `badge s-${String(status).toLowerCase()}` }, String(status).replaceAll('_', ' ').toLowerCase());
}
