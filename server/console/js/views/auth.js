// Sign in, sign up (confirmed by a mailed link) and the link's landing.

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
      if (registering) {
        // The same answer for every address: what happened is in the mail.
        const data = await anonymous('mutation($e: String!, $p: String!, $a: String) { signUp(email: $e, password: $p, accountName: $a) { email expiresInHours } }',
          { e: email.value.trim(), p: password.value, a: account.value.trim() || null });
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

function inbox({ email, expiresInHours }) {
  const card = h('section', { class: 'card narrow', tabindex: '-1' },
    h('h1', {}, 'Check your inbox'),
    h('p', {}, 'If ', h('strong', {}, email), ` can be registered, a link to create your account is on its way. It works for ${expiresInHours} hours.`),
    h('p', { class: 'quiet' }, 'On a server without a mail server, the message is an .eml file in its data directory, under mail/.'),
    h('p', {}, h('a', { href: '#/signin' }, 'Sign in'), ' once your account exists.'));
  queueMicrotask(() => card.focus());
  return card;
}

// The mailed link: creates the account once and signs its user in.
export async function confirmView(main, token, done) {
  const status = h('p', { 'aria-live': 'polite' }, 'Creating your account…');
  mount(main, h('section', { class: 'card narrow' }, h('h1', {}, 'Confirming your address'), status));
  try {
    const data = await anonymous(`mutation($t: String!) { confirmSignUp(token: $t) { ${authFields} } }`, { t: token });
    session.store(data.confirmSignUp);
    done();
  } catch (error) {
    mount(status, errorBox(error), h('p', {}, h('a', { href: '#/register' }, 'Sign up again'), ' or ', h('a', { href: '#/signin' }, 'sign in')));
  }
}
