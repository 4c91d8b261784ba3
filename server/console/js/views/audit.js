// Who did what to which proposal (owners and admins; the server refuses others too).

import { h, mount, errorBox } from '../dom.js';
import { gql } from '../api.js';
import { dateTime, json } from '../format.js';

const QUERY = `query($after: String) { auditLog(first: 50, after: $after) {
  pageInfo { hasNextPage endCursor }
  nodes { id event actor actionId storeId detail createdAt }
} }`;

export async function auditView(main) {
  const body = h('tbody');
  const more = h('div');
  let after = null;
  const page = async (event) => {
    const button = event && event.currentTarget;
    if (button) button.disabled = true;
    try {
      const data = await gql(QUERY, { after });
      const log = data.auditLog;
      for (const [i, e] of log.nodes.entries()) {
        body.append(h('tr', { tabindex: button && i === 0 ? -1 : null },
          h('td', {}, dateTime(e.createdAt)),
          h('td', {}, e.event.replaceAll('_', ' ').toLowerCase()),
          h('td', {}, e.actor),
          h('td', {}, h('details', {}, h('summary', {}, 'Detail'), h('pre', {}, json(e.detail))))));
      }
      if (!after && !log.nodes.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'Nothing recorded yet.')));
      after = log.pageInfo.endCursor;
      mount(more, log.pageInfo.hasNextPage ? h('button', { type: 'button', onclick: page }, 'Show more') : null);
      const starts = body.querySelectorAll('tr[tabindex="-1"]');
      if (button && starts.length) starts[starts.length - 1].focus();
    } catch (error) {
      mount(more, errorBox(error));
    }
  };
  mount(main, h('h1', {}, 'Audit log'),
    h('div', { class: 'scroll' }, h('table', { class: 'grid' }, h('caption', { class: 'muted' }, 'Newest first'),
      h('thead', {}, h('tr', {}, ['When', 'What', 'Who', ''].map((t) => h('th', { scope: 'col' }, t)))), body)),
    more);
  await page(null);
}
