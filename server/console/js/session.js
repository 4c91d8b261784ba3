// Who is signed in. A person may be signed in as several users (one per
// account they belong to) and switch between them; each is kept with its
// tokens in localStorage, never in a URL. Which one a tab acts as is the
// tab's own (sessionStorage), so switching in one tab never changes what
// another is doing; a new tab starts as the last one chosen.
//
// Refresh tokens rotate, and a rotated one presented again revokes the
// whole family. So a tab refreshes once at a time (one promise in flight),
// tabs take turns under a Web Lock where the browser has them (secure
// origins), and a refresh first re-reads what another tab stored meanwhile.

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

function currentId() {
  return sessionStorage.getItem(CURRENT) || localStorage.getItem(CURRENT);
}

function setCurrent(userId) {
  if (userId) {
    sessionStorage.setItem(CURRENT, userId);
    localStorage.setItem(CURRENT, userId);
  } else {
    sessionStorage.removeItem(CURRENT);
    localStorage.removeItem(CURRENT);
  }
}

export function current() {
  const id = currentId();
  return load().find((s) => s.userId === id) || null;
}

function entryOf(payload) {
  const user = payload.user;
  return {
    userId: user.id,
    email: user.email,
    role: user.role,
    accountName: user.account.name,
    accessToken: payload.accessToken,
    expiresAt: payload.expiresAt,
    refreshToken: payload.refreshToken,
    refreshExpiresAt: payload.refreshExpiresAt,
  };
}

// Keeps a signed-in user (an AuthPayload) and makes it this tab's.
export function store(payload) {
  const entry = entryOf(payload);
  save([...load().filter((s) => s.userId !== entry.userId), entry]);
  setCurrent(entry.userId);
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
  setCurrent(userId);
}

// Forgets a user. Signing out moves the tab to the next user kept, if any;
// a session that expired leaves the tab signed out, so nothing it was
// doing carries on as someone else.
export function forget(userId, { next = false } = {}) {
  const rest = load().filter((s) => s.userId !== userId);
  save(rest);
  if (currentId() === userId) setCurrent(next && rest[0] ? rest[0].userId : null);
}

function fresh(entry) {
  return entry && entry.accessToken && new Date(entry.expiresAt).getTime() - Date.now() > 30_000;
}

const inflight = new Map();

// The access token of `entry`'s user, refreshed when it is about to
// expire. `rotate` exchanges a refresh token for a new AuthPayload.
async function refreshed(entry, rotate, force) {
  const run = async () => {
    const now = load().find((s) => s.userId === entry.userId);
    if (!now) throw Object.assign(new Error('Signed out.'), { code: 'UNAUTHENTICATED' });
    // Another tab rotated while this one waited: use its tokens.
    if (fresh(now) && (!force || now.accessToken !== entry.accessToken)) return now.accessToken;
    let payload;
    try {
      payload = await rotate(now.refreshToken);
    } catch (error) {
      if (error.code === 'UNAUTHENTICATED') forget(entry.userId);
      throw error;
    }
    // Signed out meanwhile (another tab): keep nothing.
    if (!load().some((s) => s.userId === entry.userId)) throw Object.assign(new Error('Signed out.'), { code: 'UNAUTHENTICATED' });
    const next = entryOf(payload);
    save([...load().filter((s) => s.userId !== next.userId), next]);
    return next.accessToken;
  };
  return navigator.locks ? navigator.locks.request('alatar-refresh', run) : run();
}

export async function accessToken(rotate, { force = false } = {}) {
  const entry = current();
  if (!entry) return null;
  if (!force && fresh(entry)) return entry.accessToken;
  if (!inflight.has(entry.userId)) {
    inflight.set(entry.userId, refreshed(entry, rotate, force).finally(() => inflight.delete(entry.userId)));
  }
  return inflight.get(entry.userId);
}

// Runs `fn` while no tab refreshes (sign-out forgets under the same lock).
export function exclusive(fn) {
  return navigator.locks ? navigator.locks.request('alatar-refresh', fn) : fn();
}
