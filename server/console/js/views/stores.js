// Linked stores: the demo store, Shopify OAuth, token status.

import { h, mount, field, errorBox, badge, toast } from '../dom.js';
import { gql } from '../api.js';
import { dateTime } from '../format.js';

export const STORE_FIELDS = 'id kind name shopDomain scopes linkedAt disconnectedAt tokenStatus tokenExpiresAt';

export async function linkedStores() {
  const data = await gql(`{ stores { ${STORE_FIELDS} } }`);
  return data.stores.filter((s) => !s.disconnectedAt);
}

export async function storesView(main, me) {
  const list = h('div', { class: 'stack' });
  const problem = h('div');
  const refresh = async () => {
    const stores = await linkedStores();
    mount(list, stores.length ? h('div', { class: 'scroll' }, h('table', { class: 'grid' },
      h('caption', {}, 'Linked stores'),
      h('thead', {}, h('tr', {}, ['Store', 'Kind', 'Token', 'Scopes', 'Linked'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, stores.map((s) => h('tr', { dataset: { storeId: s.id } },
        h('td', {}, s.name, s.shopDomain ? h('div', { class: 'muted' }, s.shopDomain) : null),
        h('td', {}, s.kind.toLowerCase()),
        h('td', {}, badge(s.tokenStatus), s.tokenExpiresAt ? h('div', { class: 'muted' }, `until ${dateTime(s.tokenExpiresAt)}`) : null),
        h('td', { class: 'scopes' }, s.scopes.join(', ') || '—'),
        h('td', {}, dateTime(s.linkedAt)))))))
      : h('p', { class: 'empty' }, 'No store is linked yet. Link the demo store to try Alatar on realistic data.'));
  };
  const manage = me.role === 'OWNER' || me.role === 'ADMIN';
  const demo = h('button', { type: 'button', class: 'primary', onclick: async () => {
    demo.disabled = true;
    mount(problem);
    try {
      await gql(`mutation { connectDemoStore { ${STORE_FIELDS} } }`);
      toast('The demo store is linked.');
      await refresh();
    } catch (error) {
      mount(problem, errorBox(error));
    }
    demo.disabled = false;
  } }, 'Link the demo store');
  const domain = h('input', { type: 'text', placeholder: 'your-store.myshopify.com', autocomplete: 'off' });
  const oauth = h('form', { class: 'inline', onsubmit: async (event) => {
    event.preventDefault();
    mount(problem);
    try {
      const data = await gql('mutation($d: String!) { startShopifyOAuth(shopDomain: $d) { authorizationUrl } }', { d: domain.value.trim() });
      // Shopify asks the merchant to approve, then sends them to our callback.
      const url = new URL(data.startShopifyOAuth.authorizationUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('The server gave an address that is not a web page.');
      location.assign(url.href);
    } catch (error) {
      mount(problem, errorBox(error));
    }
  } }, field('Shopify store', domain), h('button', { type: 'submit' }, 'Connect with Shopify'));
  mount(main,
    h('h1', {}, 'Stores'),
    manage ? h('section', { class: 'card' }, h('h2', {}, 'Link a store'), h('p', {}, demo), oauth, problem)
      : h('p', { class: 'muted' }, 'Owners and admins link stores.'),
    list);
  await refresh();
}
