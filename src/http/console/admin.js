// 名单管理: add or replace an entry, repair it, set its dispute state, remove it (admin key,
// Redis list source). Each action is confirmed first and then shown as before → after; a
// refusal (a file source's 409 read_only_source among them) is shown as the API words it.
import { ApiProblem, api, cached } from './api.js';
import { byId, el, facts, report, show, table } from './dom.js';
import { label, t } from './i18n.js';

let last = null;

const target = () => ({ list: byId('admin-list').value, entry: byId('admin-entry').value.trim() });
const entryPath = ({ list, entry }) =>
  `/v1/lists/${encodeURIComponent(list)}/entries/${encodeURIComponent(entry)}`;

/** The stored entry and its dispute history, or `null` when there is none. */
async function read(where) {
  try {
    return await api(entryPath(where));
  } catch (err) {
    if (err instanceof ApiProblem && err.status === 404 && err.problem.code === 'entry_not_found') return null;
    throw err;
  }
}

/** The form's filled fields as an object. */
function fields(form) {
  const body = {};
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim() !== '') body[name] = String(value).trim();
  }
  return body;
}

const ACTIONS = {
  'admin-put': { title: 'admin.put', method: 'PUT', suffix: '' },
  'admin-repair': { title: 'admin.repair', method: 'POST', suffix: '/repair' },
  'admin-dispute': { title: 'admin.dispute', method: 'POST', suffix: '/dispute' },
  'admin-delete': { title: 'admin.delete', method: 'DELETE', suffix: '' },
};

export function init() {
  byId('admin-target').addEventListener('submit', async (event) => {
    event.preventDefault();
    report(null);
    try {
      last = { kind: 'current', where: target(), stored: await read(target()) };
    } catch (err) {
      last = null;
      report(err);
    }
    redraw();
  });
  for (const [id, action] of Object.entries(ACTIONS)) {
    byId(id).addEventListener('submit', (event) => {
      event.preventDefault();
      act(action, event.target);
    });
  }
}

async function act(action, form) {
  report(null);
  const where = target();
  if (!byId('admin-target').reportValidity()) return;
  const body = fields(form);
  const path = entryPath(where) + action.suffix;
  if (!(await confirmed(t(action.title), `${action.method} ${path}`, body))) return;
  try {
    const before = await read(where);
    const answer = await api(path, { method: action.method, body });
    const after = await read(where);
    last = { kind: 'change', where, before, after, answer, title: t(action.title) };
  } catch (err) {
    last = null;
    report(err);
  }
  redraw();
}

/** Asks in a modal dialog; whether the user confirmed. */
function confirmed(title, request, body) {
  const dialog = byId('confirm');
  byId('confirm-title').textContent = `${t('admin.confirm')}: ${title}`;
  show(byId('confirm-body'), el('p', {}, el('code', {}, request)),
    facts(Object.entries(body).map(([name, value]) => [label('field', name), value])));
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

export async function enter() {
  const { lists } = await cached('/v1/lists');
  const select = byId('admin-list');
  const chosen = select.value;
  show(select, lists.map((l) => el('option', { value: l.code }, `${l.name}（${l.code}）`)));
  if (chosen) select.value = chosen;
}

function value(v, name) {
  if (v === null || v === undefined) return '—';
  if (name === 'dispute') return label('dispute', v);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Field by field, before and after; the changed rows marked. */
function difference(before, after) {
  const a = before ? before.entry : {};
  const b = after ? after.entry : {};
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return table([t('col.field'), t('col.before'), t('col.after')], names.map((name) => {
    const changed = value(a[name]) !== value(b[name]);
    return el('tr', { class: changed ? 'changed' : null },
      el('td', {}, label('field', name)), el('td', {}, before ? value(a[name], name) : t('admin.absent')),
      el('td', {}, after ? value(b[name], name) : t('admin.absent')));
  }), { class: 'diff', id: 'admin-diff' });
}

export function redraw() {
  const out = byId('admin-out');
  if (!last) return show(out);
  const name = `${last.where.list} / ${last.where.entry}`;
  if (last.kind === 'current') {
    return show(out, el('div', { class: 'card' }, el('h2', {}, t('admin.current'), ' ', el('code', {}, name)),
      last.stored ? difference(last.stored, last.stored) : el('p', { class: 'muted' }, t('admin.absent'))));
  }
  const changed = JSON.stringify(last.before) !== JSON.stringify(last.after);
  return show(out, el('div', { class: 'card' },
    el('h2', {}, last.title, ' ', el('code', {}, name), ' ',
      el('span', { class: `badge ${changed ? 'flag' : 'allow'}` }, changed ? t('admin.changed') : t('admin.unchanged'))),
    facts([[t('admin.version'), last.answer.lists_version]]),
    difference(last.before, last.after)));
}
