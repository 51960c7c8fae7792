// Calls to the v1 API with the user's key, which lives in sessionStorage only (gone when the
// tab closes). Errors are shown from the problem's title and detail.
import { lang } from './i18n.js';
import { el, show } from './dom.js';

const KEY = 'jc.key';

export const key = {
  get: () => sessionStorage.getItem(KEY) || '',
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An API answer that is not 2xx, with its problem document. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super([problem.title, problem.detail].filter(Boolean).join(': ') || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Calls `path`; `body` is sent as JSON unless `contentType` says otherwise. */
export async function api(path, { method = 'GET', body, contentType, text = false } = {}) {
  const headers = {
    'Accept-Language': lang() === 'zh' ? 'zh-CN,zh;q=0.9,en;q=0.5' : 'en',
  };
  const secret = key.get();
  if (secret) headers.Authorization = `Bearer ${secret}`;
  let payload = body;
  if (body !== undefined && contentType === undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  } else if (contentType) {
    headers['Content-Type'] = contentType;
  }
  const response = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch { /* not problem+json */ }
    throw new ApiProblem(response.status, problem);
  }
  return text ? response.text() : response.json();
}

/** Catalogue answers, read once per page load. */
const cache = new Map();
export function cached(path) {
  if (!cache.has(path)) {
    cache.set(path, api(path).catch((err) => { cache.delete(path); throw err; }));
  }
  return cache.get(path);
}
export const forget = () => cache.clear();

/** Fills a matter selector from `GET /v1/matters`, keeping its first option if any. */
export async function fillMatters(select, keepFirst) {
  const { matters } = await cached('/v1/matters');
  const chosen = select.value;
  const first = keepFirst ? [select.options[0]] : [];
  show(select, first, matters.map((m) => el('option', { value: m.code }, `${m.name}（${m.code}）`)));
  if (chosen) select.value = chosen;
}

