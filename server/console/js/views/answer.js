// The answer: summary, key figures with where each came from, charts,
// sections, recommendations, citations and warnings.

import { h, mount } from '../dom.js';
import { gql } from '../api.js';
import { figure, json } from '../format.js';
import { chart } from '../chart.js';

// What the answer shows of a result; the run view asks for it with the
// request when the answer is already written (`analysisRequest` is a
// heavy operation in the rate limits, so once rather than twice).
export const RESULT_FIELDS = `result {
  summary writtenBy warnings
  sections { title body }
  keyFigures { key label value unit provenance { toolCallId tool query } }
  visualizations { title chartType data spec }
  recommendations { title rationale }
  citations { marker documentId filename page quote }
}`;

const RESULT = `query($id: ID!) { analysisRequest(id: $id) { ${RESULT_FIELDS} } }`;

function keyFigure(f) {
  const sources = f.provenance.map((p) => `${p.tool} ${JSON.stringify(p.query)}`).join('\n');
  const detail = h('div', { class: 'provenance', hidden: true },
    h('p', {}, 'Computed from:'),
    f.provenance.length ? h('ul', {}, f.provenance.map((p) => h('li', {}, h('code', {}, p.tool), h('pre', {}, json(p.query)))))
      : h('p', { class: 'muted' }, 'No recorded source.'));
  const button = h('button', { type: 'button', class: 'figure', title: sources || 'No recorded source', 'aria-expanded': 'false', dataset: { key: f.key },
    onclick: () => {
      detail.hidden = !detail.hidden;
      button.setAttribute('aria-expanded', String(!detail.hidden));
    } },
  h('span', { class: 'label' }, f.label),
  h('span', { class: 'value' }, figure(f.value, f.unit)));
  return h('li', {}, button, detail);
}

// Text with [1]-style markers linked to the citation list below.
function cited(text, citations) {
  if (!citations.length) return text;
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const c = citations.find((x) => x.marker === Number(m[1]));
    if (!c) continue;
    parts.push(text.slice(last, m.index), h('a', { href: `#cite-${c.marker}`, class: 'marker' }, `[${c.marker}]`));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

// Draws request `id`'s answer in `box`: `given` when the caller has read
// it already, else read now.
export async function answerView(box, id, given) {
  const r = given !== undefined ? given : (await gql(RESULT, { id })).analysisRequest.result;
  if (!r) {
    mount(box);
    return;
  }
  mount(box,
    h('h2', {}, 'Answer'),
    h('p', { class: 'summary' }, cited(r.summary, r.citations)),
    r.warnings.length ? h('ul', { class: 'warnings', 'aria-label': 'Warnings' }, r.warnings.map((w) => h('li', {}, w))) : null,
    r.keyFigures.length ? h('ul', { class: 'figures', 'aria-label': 'Key figures' }, r.keyFigures.map(keyFigure)) : null,
    r.visualizations.map(chart),
    r.sections.map((s) => h('section', { class: 'section' }, h('h3', {}, s.title), h('p', {}, cited(s.body, r.citations)))),
    r.recommendations.length ? h('section', {}, h('h3', {}, 'Recommendations'),
      h('ul', {}, r.recommendations.map((x) => h('li', {}, h('strong', {}, x.title), ' — ', x.rationale)))) : null,
    r.citations.length ? h('section', {}, h('h3', {}, 'Sources'),
      h('ol', { class: 'citations' }, r.citations.map((c) => h('li', { id: `cite-${c.marker}` },
        h('a', { href: `#/documents/${c.documentId}${c.page ? `/page/${c.page}` : ''}` }, c.filename, c.page ? `, page ${c.page}` : ''),
        h('blockquote', {}, c.quote))))) : null,
    r.writtenBy ? h('p', { class: 'muted' }, `Written by ${r.writtenBy}.`) : null);
}
