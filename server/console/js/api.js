// The public GraphQL API: HTTP for queries and mutations, graphql-transport-ws
// for subscriptions, both with the current session's bearer token.

import { createClient } from '../vendor/graphql-ws/client.js';
import * as session from './session.js';

export class ApiError extends Error {
  constructor(message, code, requestId, field = null) {
    super(message);
    this.code = code;
    this.requestId = requestId;
    // The argument a BAD_USER_INPUT is about.
    this.field = field;
  }
}

const AUTH_FIELDS = 'accessToken expiresAt refreshToken refreshExpiresAt user { id email role account { id name } }';

async function post(query, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  } catch {
    throw new ApiError('The server cannot be reached. Check your connection and try again.', 'NETWORK', null);
  }
  const requestId = response.headers.get('x-request-id');
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without a readable body.`, 'HTTP', requestId);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const extensions = first.extensions || {};
    throw new ApiError(first.message, extensions.code || 'ERROR', requestId, extensions.field || null);
  }
  return body.data;
}

function rotate(refreshToken) {
  return post(`mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`, { t: refreshToken }, null)
    .then((data) => data.refreshToken);
}

export function token(options) {
  return session.accessToken(rotate, options);
}

// A query or mutation as the current user; an expired token is refreshed
// once and the call repeated.
export async function gql(query, variables = {}) {
  const user = session.current() && session.current().userId;
  const first = await token();
  try {
    return await post(query, variables, first);
  } catch (error) {
    // Repeated only for the same user, with a token it refreshed.
    const now = session.current();
    if (error.code !== 'UNAUTHENTICATED' || !user || !now || now.userId !== user) throw error;
    return post(query, variables, await token({ force: true }));
  }
}

// Without a session (sign in, register).
export function anonymous(query, variables) {
  return post(query, variables, null);
}

export const authFields = AUTH_FIELDS;

let client = null;
let clientUser = null;

function socket() {
  const user = session.current() && session.current().userId;
  if (client && clientUser === user) return client;
  if (client) client.dispose();
  clientUser = user;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  client = createClient({
    url,
    lazy: true,
    keepAlive: 10_000,
    retryAttempts: 1_000,
    shouldRetry: () => true,
    connectionParams: async () => ({ authorization: `Bearer ${await token()}` }),
    on: {
      connected: () => setStatus('live'),
      closed: () => setStatus('offline'),
      connecting: () => setStatus('connecting'),
    },
  });
  return client;
}

// A subscription; returns its stop function. `sink.next` receives the
// data, `sink.error` an ApiError, `sink.complete` the end.
export function subscribe(query, variables, sink) {
  return socket().subscribe({ query, variables }, {
    next: (message) => {
      if (message.errors && message.errors.length) {
        const first = message.errors[0];
        sink.error && sink.error(new ApiError(first.message, first.extensions && first.extensions.code, null));
      } else {
        sink.next(message.data);
      }
    },
    error: (error) => {
      const first = Array.isArray(error) ? error[0] : error;
      const message = (first && (first.message || first.reason)) || 'The live connection failed.';
      sink.error && sink.error(new ApiError(message, first && first.extensions && first.extensions.code, null));
    },
    complete: () => sink.complete && sink.complete(),
  });
}

// Closes the live connection (sign out, switching user).
export function disconnect() {
  if (client) client.dispose();
  client = null;
  clientUser = null;
}

const statusListeners = new Set();
let status = 'idle';
function setStatus(next) {
  status = next;
  for (const fn of statusListeners) fn(status);
}
// Calls `fn` with the live connection's status now and on each change;
// returns the function that stops it.
export function onStatus(fn) {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}
