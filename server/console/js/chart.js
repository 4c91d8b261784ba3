// Draws the Vega-Lite specs an answer carries (a bar or line mark, x by
// category or time, y by quantity, data inlined) as SVG, without the Vega
// runtime (about 1 MB): the console's first load stays small. A spec it
// does not understand is shown as its data in a table instead.

import { h, s } from './dom.js';
import { number } from './format.js';

const W = 640;
const H = 300;
const M = { top: 16, right: 16, bottom: 64, left: 64 };

function ticks(max, count = 5) {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) || raw;
  // Up to the first tick at or above the largest value, so no mark is cut off.
  const out = [0];
  for (let i = 1; out[out.length - 1] < max; i += 1) out.push(i * step);
  return out;
}

function table(title, rows) {
  const cols = rows.length ? Object.keys(rows[0]) : [];
  return h('div', { class: 'scroll' }, h('table', { class: 'grid small' }, h('caption', {}, title),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.slice(0, 50).map((r) => h('tr', {}, cols.map((c) => h('td', {}, r[c] === null || r[c] === undefined ? '—' : typeof r[c] === 'object' ? JSON.stringify(r[c]) : String(r[c]))))))));
}

export function chart(viz) {
  const spec = viz.spec || {};
  const given = (spec.data && spec.data.values) || viz.data;
  const rows = Array.isArray(given) ? given.filter((r) => r && typeof r === 'object') : [];
  const enc = spec.encoding || {};
  const mark = typeof spec.mark === 'string' ? spec.mark : (spec.mark && spec.mark.type);
  const xf = enc.x && enc.x.field;
  const yf = enc.y && enc.y.field;
  if (!['bar', 'line', 'area', 'point'].includes(mark) || !xf || !yf || !rows.length) return table(viz.title, rows);
  const values = rows.map((r) => Number(r[yf])).map((v) => (Number.isFinite(v) ? v : 0));
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const grid = ticks(hi - lo || 1);
  const top = lo + grid[grid.length - 1];
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const band = iw / rows.length;
  const y = (v) => M.top + ih - ((v - lo) / (top - lo || 1)) * ih;
  const x = (i) => M.left + band * i + band / 2;
  const label = (r) => String(r[xf]);
  const every = Math.ceil(rows.length / 12);
  const title = viz.title || spec.title || '';
  const desc = `${title}: ${rows.map((r, i) => `${label(r)} ${number(values[i])}`).join(', ')}`;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': desc, 'data-mark': mark },
    s('title', {}, title),
    grid.map((t) => s('g', {},
      s('line', { x1: M.left, x2: W - M.right, y1: y(lo + t), y2: y(lo + t), class: 'gridline' }),
      s('text', { x: M.left - 6, y: y(lo + t) + 4, 'text-anchor': 'end', class: 'tick' }, number(lo + t)))),
    mark === 'bar'
      ? rows.map((r, i) => s('rect', { class: 'mark', x: x(i) - band * 0.35, width: band * 0.7, y: y(Math.max(0, values[i])), height: Math.abs(y(values[i]) - y(0)) },
        s('title', {}, `${label(r)}: ${number(values[i])}`)))
      : [s('polyline', { class: 'mark-line', fill: 'none', points: rows.map((r, i) => `${x(i)},${y(values[i])}`).join(' ') }),
        rows.map((r, i) => s('circle', { class: 'mark', cx: x(i), cy: y(values[i]), r: 3 }, s('title', {}, `${label(r)}: ${number(values[i])}`)))],
    rows.map((r, i) => (i % every === 0
      ? s('text', { x: x(i), y: H - M.bottom + 16, 'text-anchor': 'end', transform: `rotate(-35 ${x(i)} ${H - M.bottom + 16})`, class: 'tick' }, label(r))
      : null)),
    s('text', { x: 14, y: M.top + ih / 2, transform: `rotate(-90 14 ${M.top + ih / 2})`, 'text-anchor': 'middle', class: 'axis' }, (enc.y && enc.y.title) || yf));
  return h('figure', { class: 'chart-box' }, h('figcaption', {}, title), svg);
}
