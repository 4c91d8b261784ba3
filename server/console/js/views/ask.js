// Ask a question about a store.

import { h, mount, field, errorBox } from '../dom.js';
import { gql } from '../api.js';
import { linkedStores } from './stores.js';
import { go } from '../main.js';
import { requestList } from './history.js';

const EXAMPLES = [
  'What was my revenue over the last 3 months, and how does it compare with the quarter before?',
  'Which products sell best, and which are running out of stock?',
  'Who are my most valuable customers?',
];

export async function askView(main, me) {
  const stores = await linkedStores();
  if (!stores.length) {
    mount(main, h('h1', {}, 'Ask your analyst team'),
      h('div', { class: 'card' }, h('p', {}, 'Link a store first: the team answers from its orders, products and customers.'),
        h('a', { class: 'button primary', href: '#/stores' }, 'Link a store')));
    return;
  }
  const store = h('select', { name: 'store' }, stores.map((s) => h('option', { value: s.id }, s.name)));
  const prompt = h('textarea', { name: 'prompt', rows: 3, required: true, maxlength: 4000, placeholder: EXAMPLES[0] });
  const problem = h('div');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Ask');
  const form = h('form', { class: 'card', onsubmit: async (event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text) return;
    submit.disabled = true;
    mount(problem);
    try {
      const data = await gql('mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }', { p: text, s: store.value });
      go(`#/runs/${data.submitAnalysisRequest.id}`);
    } catch (error) {
      mount(problem, errorBox(error));
      submit.disabled = false;
    }
  } },
  h('h1', {}, 'Ask your analyst team'),
  stores.length > 1 ? field('Store', store) : null,
  field('Your question', prompt),
  h('div', { class: 'examples' }, h('span', { class: 'muted' }, 'Try: '),
    EXAMPLES.map((e) => h('button', { type: 'button', class: 'chip', onclick: () => { prompt.value = e; prompt.focus(); } }, e))),
  problem,
  submit);
  const recent = h('section', {}, h('h2', {}, 'Recent analyses'));
  mount(main, form, recent);
  prompt.focus();
  await requestList(recent, { first: 5 });
}
