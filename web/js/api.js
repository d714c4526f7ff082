// The Relais HTTP API from a browser: base URL from config.js, bearer token, problem+json
// turned into French messages, Idempotency-Key on every POST, files as downloads.

export const config = window.RELAIS_CONFIG || {};

const MESSAGES = {
  unauthenticated: 'Votre session n’est pas valide ou a expiré : reconnectez-vous.',
  forbidden: 'Votre compte n’a pas accès à cette fonction.',
  not_found: 'Introuvable (ou inaccessible avec ce compte).',
  slot_unavailable: 'Ce créneau vient d’être pris : choisissez-en un autre.',
  relay_closed: 'Le relais est fermé ce jour-là.',
  outside_opening_hours: 'Ce créneau est en dehors des heures d’ouverture.',
  invalid_state: 'Cette action n’est plus possible pour cette réservation.',
  payment_failed: 'Le paiement a échoué.',
  rate_limited: 'Trop de demandes : réessayez dans un instant.',
  idempotency_in_flight: 'La demande précédente est encore en cours : réessayez dans un instant.',
  service_unavailable: 'Le service est momentanément indisponible.',
};

export class ApiError extends Error {
  constructor(message, { status = 0, code = 'network_error', problem = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

let token = sessionStorage.getItem('relais.jeton') || '';

export function getToken() { return token; }

export function setToken(value) {
  token = (value || '').trim().replace(/^Bearer\s+/i, '');
  if (token) sessionStorage.setItem('relais.jeton', token);
  else sessionStorage.removeItem('relais.jeton');
}

/** The JWT's claims (not verified here: the API verifies the signature). */
export function claims(jwt = token) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(part),
      (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function url(path, query) {
  const base = String(config.apiBaseUrl || '').replace(/\/$/, '');
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const qs = search.toString();
  return `${base}${path}${qs ? `?${qs}` : ''}`;
}

const RETRIED = new Set(['network_error', 'idempotency_in_flight', 'rate_limited', 'service_unavailable']);
const ATTEMPTS = 3;

/** One call; a network failure, 429, 503 or a key still in flight is retried with the
 *  same Idempotency-Key (so a POST never takes effect twice), after Retry-After. */
async function send(method, path, { query, body, auth = true, idempotencyKey, accept } = {}) {
  const headers = { 'Accept-Language': 'fr' };
  if (accept) headers.Accept = accept;
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method === 'POST') headers['Idempotency-Key'] = idempotencyKey || newIdempotencyKey();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await once(method, url(path, query), headers, body);
    } catch (error) {
      if (attempt >= ATTEMPTS || !RETRIED.has(error.code)) throw error;
      const seconds = Math.min(Number(error.retryAfter) || attempt, 5);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }
}

async function once(method, target, headers, body) {
  let response;
  try {
    response = await fetch(target, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      mode: 'cors',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(
      'Impossible de joindre l’API : le réseau est coupé, ou elle n’autorise pas ' +
      `cette page (origine ${window.location.origin} absente de ALLOWED_ORIGINS).`);
  }
  if (!response.ok) throw await problem(response);
  return response;
}

async function problem(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const code = (body && body.code) || `http_${response.status}`;
  let message = MESSAGES[code] || (body && (body.detail || body.title)) ||
    `Erreur ${response.status}.`;
  const fields = (body && Array.isArray(body.errors)) ? body.errors : [];
  if (fields.length) message += ' ' + fields.map((e) => `${e.field} : ${e.message}`).join(' ; ');
  const error = new ApiError(message, { status: response.status, code, problem: body });
  error.retryAfter = response.headers.get('Retry-After');
  return error;
}

export async function getJson(path, query, options = {}) {
  return (await send('GET', path, { query, ...options })).json();
}

export async function postJson(path, body, options = {}) {
  return (await send('POST', path, { body, ...options })).json();
}

/** GET a file with the token, and hand it to the browser as a download. */
export async function download(path, query, fallbackName, { accept } = {}) {
  const response = await send('GET', path, { query, accept });
  const blob = await response.blob();
  const name = fileName(response.headers.get('Content-Disposition')) || fallbackName;
  return saveBlob(blob, name);
}

export function saveBlob(blob, name) {
  const href = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = href;
  link.download = name;
  link.textContent = `${name} (${Math.max(1, Math.round(blob.size / 1024))} Ko)`;
  link.click();
  return link;
}

function fileName(disposition) {
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition || '');
  return match ? decodeURIComponent(match[1]).replace(/[/\\]/g, '_') : '';
}

export async function allPages(path, query = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJson(path, { ...query, limit: 100, cursor }, { auth: false });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < 2000);
  return items;
}

export function euros(cents) {
  return new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR' })
    .format((Number(cents) || 0) / 100);
}
