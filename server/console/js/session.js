// Who is signed in. A person may be signed in as several users (one per
// account they belong to) and switch between them; each is kept with its
// tokens in localStorage, never in a URL. Refresh tokens rotate and a
// rotated one presented again revokes the whole family, so refreshing is
// serialised across tabs with a Web Lock and re-reads what another tab may
// have stored meanwhile.

const KEY = 'alatar.sessions';
const CURRENT = 'alatar.current';

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || [];
  } catch {
    return [];
  }
}

function save(sessions) {
  localStorage.setItem(KEY, JSON.stringify(sessions));
}

export function all() {
  return load();
}

export function current() {
  const id = localStorage.getItem(CURRENT);
  return load().find((s) => s.userId === id) || null;
}

// Keeps an AuthPayload as the current session.
export function store(payload) {
  const user = payload.user;
  const entry = {
    userId: user.id,
    email: user.email,
    role: user.role,
    accountName: user.account.name,
    accessToken: payload.accessToken,
    expiresAt: payload.expiresAt,
    refreshToken: payload.refreshToken,
    refreshExpiresAt: payload.refreshExpiresAt,
  };
  const sessions = load().filter((s) => s.userId !== user.id);
  sessions.push(entry);
  save(sessions);
  localStorage.setItem(CURRENT, user.id);
  return entry;
}

// Refreshes what the server says now about the user (role, account name).
export function update(userId, fields) {
  const sessions = load();
  const entry = sessions.find((s) => s.userId === userId);
  if (!entry) return;
  Object.assign(entry, fields);
  save(sessions);
}

export function switchTo(userId) {
  localStorage.setItem(CURRENT, userId);
}

export function forget(userId) {
  save(load().filter((s) => s.userId !== userId));
  if (localStorage.getItem(CURRENT) === userId) {
    const next = load()[0];
    if (next) localStorage.setItem(CURRENT, next.userId);
    else localStorage.removeItem(CURRENT);
  }
}

function fresh(entry) {
  return entry && entry.accessToken && new Date(entry.expiresAt).getTime() - Date.now() > 30_000;
}

// The current access token, refreshed when it is about to expire. `rotate`
// is the HTTP call that exchanges a refresh token for a new AuthPayload.
export async function accessToken(rotate, { force = false } = {}) {
  const entry = current();
  if (!entry) return null;
  if (!force && fresh(entry)) return entry.accessToken;
  const run = async () => {
    const now = load().find((s) => s.userId === entry.userId);
    if (!now) return null;
    // Another tab rotated while this one waited: use its tokens.
    if (fresh(now) && (!force || now.accessToken !== entry.accessToken)) return now.accessToken;
    try {
      return store(await rotate(now.refreshToken)).accessToken;
    } catch (error) {
      if (error.code === 'UNAUTHENTICATED') forget(entry.userId);
      throw error;
    }
  };
  return navigator.locks ? navigator.locks.request('alatar-refresh', run) : run();
}
