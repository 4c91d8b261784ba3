// Sign in and register.

import { h, mount, field, errorBox } from '../dom.js';
import { anonymous, authFields } from '../api.js';
import * as session from '../session.js';

export function authView(main, mode, done) {
  const registering = mode === 'register';
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    type: 'password', name: 'password', required: true, minlength: registering ? 10 : null,
    autocomplete: registering ? 'new-password' : 'current-password',
  });
  const account = h('input', { type: 'text', name: 'account', autocomplete: 'organization' });
  const problem = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary' }, registering ? 'Create account' : 'Sign in');
  const form = h('form', { class: 'card narrow', onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    mount(problem);
    try {
      const data = registering
        ? await anonymous(`mutation($e: String!, $p: String!, $a: String) { register(email: $e, password: $p, accountName: $a) { ${authFields} } }`,
          { e: email.value.trim(), p: password.value, a: account.value.trim() || null })
        : await anonymous(`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ${authFields} } }`,
          { e: email.value.trim(), p: password.value });
      session.store(registering ? data.register : data.login);
      done();
    } catch (error) {
      mount(problem, errorBox(error));
      submit.disabled = false;
    }
  } },
  h('h1', {}, registering ? 'Create your Alatar account' : 'Sign in to Alatar'),
  field('Email', email),
  field('Password', password, registering ? 'At least 10 characters, not a common one.' : null),
  registering ? field('Business name', account, 'Shown to the people you invite.') : null,
  problem,
  submit,
  h('p', {}, registering
    ? ['Already have an account? ', h('a', { href: '#/signin' }, 'Sign in')]
    : ['New to Alatar? ', h('a', { href: '#/register' }, 'Create an account')]));
  mount(main, form);
  email.focus();
}
