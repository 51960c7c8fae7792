// 主体查询: a subject's profile (`GET /v1/subjects/{id}`) and, for a chosen matter, its
// decision (`POST /v1/decide`) explained measure by measure.
import { api, cached, fillMatters } from './api.js';
import { byId, el, facts, report, show, table } from './dom.js';
import { label, lang, t } from './i18n.js';

let last = null;

export function init() {
  byId('lookup-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    report(null);
    const id = byId('lookup-id').value.trim();
    const matter = byId('lookup-matter').value;
    try {
      const [profile, decision, lists] = await Promise.all([
        api(`/v1/subjects/${encodeURIComponent(id)}`),
        matter ? api('/v1/decide', { method: 'POST', body: { subject: { id }, matter } }) : null,
        listNames(),
      ]);
      last = { profile, decision, lists };
    } catch (err) {
      last = null;
      report(err);
    }
    redraw();
  });
}

export async function enter() {
  await fillMatters(byId('lookup-matter'), true);
}

export function redraw() {
  const out = byId('lookup-out');
  if (!last) return show(out);
  const { profile, decision, lists } = last;
  show(out, subjectCard(profile), decision && decisionCard(decision, lists),
    entriesCard(t('lookup.entries'), profile.entries, lists, false),
    profile.named_in.length > 0 && entriesCard(t('lookup.named_in'), profile.named_in, lists, true));
}

/** List code → name, from `GET /v1/lists`. */
export async function listNames() {
  const { lists } = await cached('/v1/lists');
  return new Map(lists.map((list) => [list.code, list.name]));
}

/** A person's ID number shown as its region and last four characters only. */
export function masked(id) {
  return id && id.length >= 15 ? `${id.slice(0, 6)}${'*'.repeat(id.length - 10)}${id.slice(-4)}` : id;
}

function subjectCard(profile) {
  return el('div', { class: 'card' },
    el('h2', {}, t('lookup.subject'), ' ', el('code', {}, profile.subject.id)),
    facts([
      [t('lookup.kind'), lang() === 'zh' ? profile.subject.kind_label : profile.subject.kind],
      [t('lookup.id_type'), profile.subject.id_type],
      [t('lookup.as_of'), profile.as_of],
      [t('lookup.topics'), profile.topics.join('、') || '—'],
      [t('report.revision'), `${profile.ruleset.name} ${profile.ruleset.revision}`],
      [t('report.lists_version'), profile.lists_version],
    ]),
    warnings(profile.warnings));
}

function warnings(list) {
  if (!list || list.length === 0) return null;
  return el('ul', { class: 'warnings' }, list.map((w) => el('li', {}, `${w.code}: ${w.message}`)));
}

function entriesCard(title, entries, lists, named) {
  if (entries.length === 0) {
    return el('div', { class: 'card' }, el('h2', {}, title), el('p', { class: 'muted' }, t('lookup.no_entries')));
  }
  const rows = entries.map((e) => el('tr', { class: `state-${e.state}` },
    el('td', {}, el('strong', {}, lists.get(e.list) || e.list), el('br'), el('code', {}, e.entry_id),
      named && e.role ? [el('br'), label('role', e.role)] : null),
    el('td', {}, el('span', { class: `pill ${e.state}` }, label('state', e.state)),
      e.dispute && e.dispute !== 'none' ? [el('br'), el('span', { class: 'pill dispute' }, label('dispute', e.dispute))] : null),
    el('td', {}, `${e.listed_on} — ${e.valid_until || t('lookup.open_ended')}`),
    el('td', {}, e.reason, e.score !== undefined && e.score !== null
      ? [el('br'), `${t('lookup.score')}: ${e.score_level ?? ''} (${e.score})`] : null,
      e.superseded_by ? [el('br'), el('span', { class: 'muted' }, `→ ${e.superseded_by}`)] : null),
    el('td', {}, e.authority || '', e.basis_doc ? [el('br'), e.basis_doc] : null),
    el('td', {}, (e.responsible_persons || []).map((p) =>
      el('div', {}, `${label('role', p.role)}: ${p.name || ''} `, el('code', {}, masked(p.id))))),
    el('td', {}, (e.dispute_history || []).map((h) =>
      el('div', { class: 'small' }, `${h.at || ''} ${label('dispute', h.dispute || h.state)} ${h.by || ''} ${h.reason || ''}`)))));
  return el('div', { class: 'card' }, el('h2', {}, title, ` (${entries.length})`),
    table([t('col.list'), t('col.state'), t('col.window'), t('col.reason'), t('col.authority'),
      t('col.persons'), t('col.history')], rows, { class: 'entries' }));
}

/** A decision, its reasons one measure at a time with legal basis, department and text. */
export function decisionCard(decision, lists) {
  return el('div', { class: `card decision ${decision.decision}` },
    el('h2', {}, t('lookup.decision'), ' ',
      el('span', { class: `badge ${decision.decision}` }, label('decision', decision.decision)),
      ' ', el('span', { class: 'muted' }, decision.matter)),
    facts([
      [t('col.decision_id'), decision.decision_id],
      [t('report.time'), decision.evaluated_at],
      [t('report.revision'), `${decision.ruleset.name} ${decision.ruleset.revision}`],
      [t('report.lists_version'), decision.lists_version],
    ]),
    warnings(decision.warnings),
    decision.reasons.length === 0
      ? el('p', { class: 'muted' }, t('lookup.no_reasons'))
      : decision.reasons.map((r) => reasonBlock(r, lists)));
}

function reasonBlock(r, lists) {
  return el('div', { class: `reason ${r.effect}` },
    el('h3', {}, el('span', { class: `badge ${r.effect}` }, label('effect', r.effect)), ' ', r.measure_name,
      ' ', el('code', { class: 'muted' }, r.measure)),
    facts([
      [t('col.list'), `${lists.get(r.list) || r.list} · ${r.entry_id}`],
      [t('col.persons'), r.via ? `${label('role', r.via.role)}: ${r.via.subject_name || ''} (${r.via.entry_id})` : null],
      [t('col.basis'), r.legal_basis],
      [t('col.department'), r.department],
      [t('col.text'), r.text],
    ]),
    warnings(r.warnings));
}
