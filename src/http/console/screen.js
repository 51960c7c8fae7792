// 投标人核查: a bidder list (pasted, or a CSV / .xlsx read by `POST /v1/subject-lists`)
// decided in one matter with `POST /v1/decide/batch`; blocked first, then flagged, then
// allowed, invalid rows last; and a printable 信用核查 report of the result.
import { api, cached, fillMatters } from './api.js';
import { byId, el, facts, report, show, table } from './dom.js';
import { label, t } from './i18n.js';
import { listNames } from './lookup.js';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const ORDER = { block: 0, flag: 1, allow: 2 };
let last = null;

export function init() {
  byId('screen-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    report(null);
    try {
      last = await screen();
    } catch (err) {
      last = null;
      report(err);
    }
    byId('screen-print').disabled = !last;
    redraw();
  });
  byId('screen-print').addEventListener('click', () => window.print());
}

export async function enter() {
  await fillMatters(byId('screen-matter'), false);
}

/** The bidders as `POST /v1/subject-lists` gives them: `{subjects, rows, names, problems}`,
 * rows being the lines of the paste or the spreadsheet's rows. */
async function bidders() {
  const file = byId('screen-file').files[0];
  if (file) {
    const type = file.name.toLowerCase().endsWith('.xlsx') ? XLSX : 'text/csv';
    return api('/v1/subject-lists', { method: 'POST', body: file, contentType: type });
  }
  const subjects = [];
  const rows = [];
  const names = [];
  byId('screen-paste').value.split(/\r?\n/).forEach((line, index) => {
    const [id, ...name] = line.split(/[,，\t]/).map((cell) => cell.trim());
    if (!id) return;
    subjects.push({ id });
    rows.push(index + 1);
    names.push(name.join(' ') || null);
  });
  return { subjects, rows, names, problems: [] };
}

async function screen() {
  const list = await bidders();
  if (list.subjects.length === 0 && list.problems.length === 0) throw new Error(t('screen.empty'));
  const matter = byId('screen-matter').value;
  const caseRef = byId('screen-case').value.trim();
  const department = byId('screen-department').value.trim();
  const body = { subjects: list.subjects, matter };
  if (caseRef) body.case_ref = caseRef;
  if (department) body.department = department;
  const [batch, lists, { matters }, status] = await Promise.all([
    list.subjects.length > 0 ? api('/v1/decide/batch', { method: 'POST', body }) : null,
    listNames(), cached('/v1/matters'), api('/v1/status'),
  ]);
  return { list, batch, lists, matter: matters.find((m) => m.code === matter), caseRef, department, status };
}

/** Each bidder with its row, name and result, in the order an officer reads them. */
function ordered({ list, batch }) {
  const items = (batch ? batch.results : []).map((result, index) => ({
    row: list.rows[index], name: list.names[index], id: list.subjects[index].id, result,
  }));
  const rank = (item) => (item.result.error ? 3 : ORDER[item.result.decision]);
  return items.sort((a, b) => rank(a) - rank(b) || a.row - b.row);
}

function reasons(result, lists) {
  if (result.error) return el('span', { class: 'error-text' }, result.error.detail);
  return result.reasons.map((r) => el('div', { class: `small effect-${r.effect}` },
    `${label('effect', r.effect)} · ${r.measure_name}（${lists.get(r.list) || r.list}，${r.entry_id}）`));
}

function verdict(result) {
  const code = result.error ? 'invalid' : result.decision;
  return el('span', { class: `badge ${code}` }, label('decision', code));
}

export function redraw() {
  const out = byId('screen-out');
  if (!last) return show(out);
  const items = ordered(last);
  const summary = last.batch ? last.batch.summary : { allow: 0, flag: 0, block: 0, invalid: 0 };
  const rows = items.map((item) => el('tr', { class: `row-${item.result.error ? 'invalid' : item.result.decision}` },
    el('td', {}, item.row), el('td', {}, el('code', {}, item.id), item.name ? [el('br'), item.name] : null),
    el('td', {}, verdict(item.result)), el('td', {}, reasons(item.result, last.lists))));
  show(out,
    el('div', { class: 'card' },
      el('h2', {}, t('screen.summary')),
      el('p', { class: 'counts' }, ['block', 'flag', 'allow', 'invalid'].map((code) =>
        el('span', { class: `badge ${code}` }, `${label('decision', code)} ${summary[code] ?? 0}`))),
      table([t('col.row'), t('col.subject'), t('col.decision'), t('col.reasons')], rows, { id: 'screen-table' }),
      last.list.problems.length > 0 && [el('h3', {}, t('screen.problems')),
        table([t('col.row'), t('col.field'), t('col.problem')], last.list.problems.map((p) =>
          el('tr', {}, el('td', {}, p.row), el('td', {}, p.field), el('td', {}, p.message))), { id: 'screen-problems' })]),
    printable(items));
}

/** The 信用核查 report: what was checked, against which rules and lists, when, for which case. */
function printable(items) {
  const { batch, status, matter, caseRef, department } = last;
  const ruleset = status.ruleset;
  return el('article', { class: 'report', id: 'report' },
    el('h2', {}, t('report.title')),
    facts([
      [t('screen.case_ref'), caseRef || '—'],
      [t('report.matter'), matter ? `${matter.name}（${matter.code}）` : ''],
      [t('screen.department'), department || '—'],
      [t('report.matter_department'), matter ? matter.department : ''],
      [t('report.ruleset'), `${ruleset.title || ruleset.name}（${ruleset.name}）`],
      [t('report.revision'), batch ? batch.ruleset.revision : ruleset.revision],
      [t('report.lists_version'), batch ? batch.lists_version : status.lists.version],
      [t('report.time'), batch ? batch.evaluated_at : ''],
    ]),
    table(['#', t('col.subject'), t('col.decision'), t('col.reasons'), t('col.decision_id')],
      items.map((item, index) => el('tr', {},
        el('td', {}, index + 1),
        el('td', {}, item.name || '', item.name ? el('br') : null, item.id),
        el('td', {}, verdict(item.result)),
        el('td', {}, reasons(item.result, last.lists)),
        el('td', {}, el('code', { class: 'small' }, item.result.decision_id || `${t('col.row')} ${item.row}`))))),
    el('p', { class: 'small muted' }, t('report.note')));
}
