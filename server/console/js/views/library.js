// What the account keeps beside its stores: document collections,
// datasets, dashboards, watched share prices and analysed repositories.
// Read-only here; each is managed through the API.

import { h, mount, badge, errorBox } from '../dom.js';
import { gql } from '../api.js';
import { bytes, dateTime, figure, number } from '../format.js';
import { startChat } from './chat.js';

const QUERY = `{
  collections(first: 50) { nodes { id name description documentCount updatedAt documents(first: 50) { nodes { id filename status pageCount } } } }
  datasets(first: 50) { nodes { id name status format rowCount columnCount byteSize updatedAt } }
  dashboards(first: 50) { nodes { id name updatedAt visualizations { id } } }
  stockSymbols
  repositoryAnalyses(first: 50) { nodes { id url ref job { status progress } licenceSpdx files nodeCount createdAt error } }
}`;

function section(title, items, empty, draw) {
  return h('section', { class: 'card' }, h('h2', {}, title),
    items.length ? h('ul', { class: 'rows' }, items.map((i) => h('li', {}, draw(i)))) : h('p', { class: 'empty' }, empty));
}

async function indicators(symbols) {
  const out = [];
  for (const symbol of symbols.slice(0, 20)) {
    const data = await gql('query($s: String!) { stockIndicators(symbol: $s) { symbol price vwap volatility asOf } }', { s: symbol });
    if (data.stockIndicators) out.push(data.stockIndicators);
  }
  return out;
}

function dashboardPicture(id, box) {
  return async () => {
    try {
      const data = await gql('query($id: ID!) { dashboard(id: $id) { name svg } }', { id });
      // As an image, the server-drawn SVG can run nothing.
      const src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(data.dashboard.svg)}`;
      mount(box, h('img', { src, alt: `Dashboard ${data.dashboard.name}`, class: 'dashboard' }));
    } catch (error) {
      mount(box, errorBox(error));
    }
  };
}

export async function libraryView(main) {
  const data = await gql(QUERY);
  const stocks = await indicators(data.stockSymbols);
  mount(main, h('h1', {}, 'Library'),
    section('Documents', data.collections.nodes, 'No collection yet.', (c) => [
      h('strong', {}, c.name), ` · ${c.documentCount} document${c.documentCount === 1 ? '' : 's'} `,
      h('button', { type: 'button', class: 'quiet', onclick: () => startChat(c.id).catch((e) => mount(main, errorBox(e))) }, 'Chat about it'),
      c.description ? h('div', { class: 'muted' }, c.description) : null,
      h('ul', {}, c.documents.nodes.map((d) => h('li', {}, h('a', { href: `#/documents/${d.id}` }, d.filename), ' ', badge(d.status),
        d.pageCount ? ` · ${d.pageCount} pages` : '')))]),
    section('Datasets', data.datasets.nodes, 'No dataset yet.', (d) => [
      h('strong', {}, d.name), ' ', badge(d.status),
      h('div', { class: 'muted' }, `${d.format.toLowerCase()} · ${number(d.rowCount)} rows × ${d.columnCount} columns · ${bytes(d.byteSize)} · ${dateTime(d.updatedAt)}`)]),
    section('Dashboards', data.dashboards.nodes, 'No dashboard yet.', (d) => {
      const box = h('div');
      return [h('strong', {}, d.name), ` · ${d.visualizations.length} chart${d.visualizations.length === 1 ? '' : 's'} `,
        h('button', { type: 'button', class: 'quiet', onclick: dashboardPicture(d.id, box) }, 'Show'), box];
    }),
    section('Share prices', stocks, 'No symbol is watched yet.', (s) => [
      h('strong', {}, s.symbol), ` ${figure(s.price)}`,
      h('span', { class: 'muted' }, ` · VWAP ${s.vwap === null ? '—' : figure(s.vwap)} · volatility ${s.volatility === null ? '—' : figure(s.volatility, 'ratio')} · as of ${dateTime(s.asOf)}`)]),
    section('Repositories', data.repositoryAnalyses.nodes, 'No repository analysed yet.', (r) => [
      h('strong', {}, r.url), r.ref ? ` @ ${r.ref}` : '', ' ', badge(r.job.status),
      h('div', { class: 'muted' }, r.error || `${r.files === null ? '—' : r.files} files · ${r.nodeCount} symbols · licence ${r.licenceSpdx || 'none found'} · ${dateTime(r.createdAt)}`)]));
}

// A document's text by page; `page` (from a citation) is scrolled to and focused.
export async function documentView(main, me, id, page) {
  const data = await gql(`query($id: ID!) { document(id: $id) {
    filename status pageCount failureReason summary { text }
    chunks(first: 100) { nodes { ordinal page text } }
  } }`, { id });
  const d = data.document;
  mount(main, h('h1', {}, d.filename), h('p', {}, badge(d.status), d.pageCount ? ` · ${d.pageCount} pages` : ''),
    d.failureReason ? h('p', { class: 'error' }, d.failureReason) : null,
    d.summary ? h('section', { class: 'card' }, h('h2', {}, 'Summary'), h('p', {}, d.summary.text)) : null,
    h('section', {}, h('h2', {}, 'Text'), d.chunks.nodes.map((c) => h('div', { class: 'chunk', id: `chunk-${c.ordinal}`, dataset: { page: c.page } },
      c.page ? h('div', { class: 'muted' }, `Page ${c.page}`) : null, h('p', {}, c.text)))));
  const cited = page && main.querySelector(`.chunk[data-page="${Number(page)}"]`);
  if (cited) {
    cited.setAttribute('tabindex', '-1');
    cited.scrollIntoView({ block: 'start' });
    cited.focus({ preventScroll: true });
  }
}
