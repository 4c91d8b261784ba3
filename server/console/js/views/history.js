// Past analyses, newest first, filtered by status, a page at a time.

import { h, mount, badge, errorBox, field } from '../dom.js';
import { gql } from '../api.js';
import { dateTime } from '../format.js';

const STATUSES = ['', 'QUEUED', 'PLANNING', 'RUNNING', 'AWAITING_APPROVAL', 'COMPLETED', 'FAILED', 'CANCELLED'];

const QUERY = `query($first: Int!, $after: String, $status: AnalysisStatus) {
  listAnalysisRequests(first: $first, after: $after, status: $status) {
    pageInfo { hasNextPage endCursor }
    nodes { id prompt status createdAt finishedAt store { name } }
  }
}`;

// Appends a list of requests to `container`, with a "Show more" button.
export async function requestList(container, { first = 20, status = null } = {}) {
  const list = h('ul', { class: 'requests' });
  const more = h('div');
  container.append(list, more);
  let after = null;
  const page = async (event) => {
    const button = event && event.currentTarget;
    if (button) button.disabled = true;
    try {
      const data = await gql(QUERY, { first, after, status: status || null });
      const conn = data.listAnalysisRequests;
      if (!after && !conn.nodes.length) list.append(h('li', { class: 'empty' }, 'No analyses yet.'));
      const added = conn.nodes.map((r) => h('li', { dataset: { requestId: r.id } },
        h('a', { href: `#/runs/${r.id}` }, r.prompt),
        h('div', { class: 'meta' }, badge(r.status), ' ', r.store ? r.store.name : '', ' · ', dateTime(r.createdAt))));
      list.append(...added);
      after = conn.pageInfo.endCursor;
      mount(more, conn.pageInfo.hasNextPage ? h('button', { type: 'button', onclick: page }, 'Show more') : null);
      // The button just pressed is gone: the keyboard goes on from the first new row.
      if (button && added.length) added[0].querySelector('a').focus();
    } catch (error) {
      mount(more, errorBox(error));
    }
  };
  await page(null);
}

export async function historyView(main) {
  const filter = h('select', { name: 'status' }, STATUSES.map((s) => h('option', { value: s }, s ? s.replaceAll('_', ' ').toLowerCase() : 'any status')));
  const results = h('div');
  filter.addEventListener('change', () => {
    mount(results);
    requestList(results, { status: filter.value });
  });
  mount(main, h('h1', {}, 'Analyses'), h('div', { class: 'toolbar' }, field('Status', filter)), results);
  await requestList(results, {});
}
