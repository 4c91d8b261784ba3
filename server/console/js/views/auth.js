// Sign in, sign up (confirmed by a mailed link) and the link's landing.

import { h, mount, field, errorBox } from '../dom.js';
import { anonymous, authFields } from '../api.js';
import * as session from '../session.js';

export function authView(main, mode, done) {
  const registering = mode === 'register';
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  // Signing up asks for the address only: the password is chosen on the
  // page the mailed link opens, by whoever can read that mail.
  const password = registering ? null : h('input', {
    type: 'password', name: 'password', required: true, autocomplete: 'current-password',
  });
  const problem = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary' }, registering ? 'Create account' : 'Sign in');
  const form = h('form', { class: 'card narrow', onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    mount(problem);
    try {
      if (registering) {
        // The same answer for every address: what happened is in the mail.
        const data = await anonymous('mutation($e: String!) { signUp(email: $e) { email expiresInHours } }',
          { e: email.value.trim() });
        mount(main, inbox(data.signUp));
        return;
      }
      const data = await anonymous(`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ${authFields} } }`,
        { e: email.value.trim(), p: password.value });
      session.store(data.login);
      done();
    } catch (error) {
      mount(problem, errorBox(error));
      submit.disabled = false;
    }
  } },
  h('h1', {}, registering ? 'Create your Alatar account' : 'Sign in to Alatar'),
  field('Email', email),
  password ? field('Password', password) : h('p', { class: 'quiet' }, 'We mail you a link; you choose your password on the page it opens.'),
  problem,
  submit,
  h('p', {}, registering
    ? ['Already have an account? ', h('a', { href: '#/signin' }, 'Sign in')]
    : ['New to Alatar? ', h('a', { href: '#/register' }, 'Create an account')]));
  mount(main, form);
  email.focus();
}

function inbox({ email, expiresInHours }) {
  const card = h('section', { class: 'card narrow', tabindex: '-1' },
    h('h1', {}, 'Check your inbox'),
    h('p', {}, 'If ', h('strong', {}, email), ` can be registered, a link to create your account is on its way. It works for ${expiresInHours} hours.`),
    h('p', { class: 'quiet' }, 'On a server without a mail server, the message is an .eml file in its data directory, under mail/.'),
    h('p', {}, 'Already have an account? ', h('a', { href: '#/signin' }, 'Sign in')));
  queueMicrotask(() => card.focus());
  return card;
}

// The mailed link's page: the password (and a new account's name) chosen
// here, then the account is created and its user signed in.
export function confirmView(main, token, done) {
  const password = h('input', { type: 'password', name: 'password', required: true, minlength: 10, autocomplete: 'new-password' });
  const account = h('input', { type: 'text', name: 'account', autocomplete: 'organization' });
  const problem = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create account');
  const form = h('form', { class: 'card narrow', onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    mount(problem);
    try {
      const data = await anonymous(`mutation($t: String!, $p: String!, $a: String) { confirmSignUp(token: $t, password: $p, accountName: $a) { ${authFields} } }`,
        { t: token, p: password.value, a: account.value.trim() || null });
      session.store(data.confirmSignUp);
      done();
    } catch (error) {
      mount(problem, errorBox(error));
      if (error.code === 'BAD_USER_INPUT' && error.field === 'token') {
        mount(problem, errorBox(error), h('p', {}, h('a', { href: '#/register' }, 'Sign up again'), ' or ', h('a', { href: '#/signin' }, 'sign in')));
        return;
      }
      submit.disabled = false;
    }
  } },
  h('h1', {}, 'Create your Alatar account'),
  field('Password', password, 'At least 10 characters, not a common one.'),
  field('Business name', account, 'Shown to the people you invite; not used when you join through an invitation.'),
  problem,
  submit);
  mount(main, form);
  password.focus();
}
