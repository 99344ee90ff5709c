// Calls to the service's JSON endpoints, with the bearer token when one is set. The token lives in this tab's
// sessionStorage and travels only in the Authorization header, never in a URL the server sees: a `#token=…`
// fragment is read once and removed from the address bar.

const KEY = 'conveyor.token';

/** Thrown when the server answers 401: the page shows its sign-in form. */
export class AuthRequired extends Error {}

export function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

export const setToken = t => sessionStorage.setItem(KEY, t);

/** GET a JSON endpoint: { status, body, date } where date is the server's clock (Date header) or null. */
export async function getJson(path) {
  const headers = { Accept: 'application/json' };
  const token = sessionStorage.getItem(KEY);
  if (token) headers.Authorization = 'Bearer ' + token;
  const r = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
  if (r.status === 401) throw new AuthRequired();
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  const date = r.headers.get('Date');
  return { status: r.status, body, date: date ? new Date(date) : null };
}
