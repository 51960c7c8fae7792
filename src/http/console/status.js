// 运行状态: revisions, list counts, staleness (`GET /v1/status`), and decision rates computed
// here from two reads of the `jiangcheng_decisions_total` counters on `/metrics`.
import { api, cached } from './api.js';
import { byId, el, facts, report, show, table } from './dom.js';
import { label, t } from './i18n.js';

const PERIOD_MS = 5000;
let timer = null;
let last = null;
/** The previous read of the counters: `{at, totals}`. */
let previous = null;

/** Decisions so far by outcome, summed over matters, from the Prometheus text. */
function totals(metrics) {
  const sums = { allow: 0, flag: 0, block: 0 };
  for (const line of metrics.split('\n')) {
    const match = /^jiangcheng_decisions_total\{[^}]*decision="(\w+)"[^}]*\}\s+([0-9.e+]+)/.exec(line);
    if (match && match[1] in sums) sums[match[1]] += Number(match[2]);
  }
  return sums;
}

async function poll() {
  try {
    const [status, lists] = await Promise.all([api('/v1/status'), cached('/v1/lists')]);
    let rates = null;
    let ratesNote = 'status.rates_pending';
    try {
      const now = { at: performance.now(), totals: totals(await api('/metrics', { text: true })) };
      if (previous) {
        const seconds = (now.at - previous.at) / 1000;
        rates = Object.fromEntries(Object.entries(now.totals).map(([code, n]) =>
          [code, Math.max(0, n - previous.totals[code]) / seconds]));
      }
      previous = now;
    } catch {
      ratesNote = 'status.rates_unavailable';
    }
    last = { status, names: new Map(lists.lists.map((l) => [l.code, l.name])), rates, ratesNote };
    report(null);
  } catch (err) {
    report(err);
  }
  redraw();
}

export function init() {}

export async function enter() {
  leave();
  previous = null;
  await poll();
  timer = setInterval(poll, PERIOD_MS);
}

export function leave() {
  if (timer) clearInterval(timer);
  timer = null;
}

const yesNo = (flag) => (flag ? t('status.yes') : t('status.no'));

export function redraw() {
  if (!last) return;
  const { status, names, rates, ratesNote } = last;
  const { ruleset, lists } = status;
  const perList = Object.entries(lists.per_list || {}).sort((a, b) => b[1] - a[1]);
  show(byId('status-out'),
    el('div', { class: 'grid' },
      el('div', { class: 'card' }, el('h2', {}, t('status.ruleset')), facts([
        [t('report.ruleset'), `${ruleset.title || ruleset.name}（${ruleset.name}）`],
        [t('report.revision'), ruleset.revision],
        [t('status.counts'), `${ruleset.lists} · ${ruleset.measures} · ${ruleset.matters}`],
        [t('status.started_at'), status.started_at],
        [t('status.auth'), status.auth ? status.auth.mode : ''],
      ])),
      el('div', { class: 'card' }, el('h2', {}, t('status.lists')), facts([
        [t('status.source'), `${lists.source} ${lists.location || ''}`],
        [t('status.version'), lists.version],
        [t('status.entries'), `${lists.entries} / ${lists.subjects}`],
        [t('status.loaded_at'), lists.loaded_at],
        [t('status.stale'), el('span', { class: `badge ${lists.stale ? 'block' : 'allow'}` }, yesNo(lists.stale))],
        [t('status.staleness'), lists.staleness_seconds ?? '—'],
        [t('status.last_error'), status.last_load ? status.last_load.last_error || '—' : '—'],
      ])),
      el('div', { class: 'card' }, el('h2', {}, t('status.rates')), rates
        ? facts(Object.entries(rates).map(([code, rate]) => [label('decision', code), rate.toFixed(2)]))
        : el('p', { class: 'muted' }, t(ratesNote))),
      status.register && el('div', { class: 'card' }, el('h2', {}, t('status.register')),
        facts(Object.entries(status.register).map(([name, v]) => [name, String(v)])))),
    el('div', { class: 'card' }, el('h2', {}, t('status.per_list')),
      table([t('col.name'), t('col.list'), t('col.count')], perList.map(([code, n]) =>
        el('tr', {}, el('td', {}, names.get(code) || code), el('td', {}, el('code', {}, code)), el('td', { class: 'num' }, n))),
      { class: 'compact' })));
}
