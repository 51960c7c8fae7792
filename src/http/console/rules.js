// 规则浏览: topics → measures → matters, with legal bases, filtered as the user types
// (`GET /v1/topics`, `/v1/matters`, `/v1/lists`).
import { cached } from './api.js';
import { byId, el, show, table } from './dom.js';
import { label, t } from './i18n.js';

let data = null;

export function init() {
  byId('rules-filter').addEventListener('input', redraw);
  byId('rules-kind').addEventListener('change', redraw);
}

export async function enter() {
  const [topics, matters, lists] = await Promise.all([
    cached('/v1/topics'), cached('/v1/matters'), cached('/v1/lists')]);
  data = {
    topics: topics.topics,
    matters: new Map(matters.matters.map((m) => [m.code, m])),
    lists: new Map(lists.lists.map((l) => [l.code, l])),
  };
  redraw();
}

const has = (needle, ...texts) => texts.some((text) => text && String(text).toLowerCase().includes(needle));

function measureMatches(measure, needle) {
  return has(needle, measure.code, measure.name, measure.legal_basis, measure.department, measure.text)
    || measure.matters.some((code) => has(needle, code, data.matters.get(code)?.name));
}

export function redraw() {
  if (!data) return;
  const needle = byId('rules-filter').value.trim().toLowerCase();
  const kind = byId('rules-kind').value;
  const shown = [];
  for (const topic of data.topics) {
    if (kind && topic.kind !== kind) continue;
    const topicMatches = !needle || has(needle, topic.code, topic.name, topic.memorandum)
      || topic.lists.some((code) => has(needle, code, data.lists.get(code)?.name));
    const measures = topic.measure_details.filter((m) => topicMatches || measureMatches(m, needle));
    if (measures.length > 0) shown.push(topicBlock(topic, measures, Boolean(needle)));
  }
  byId('rules-count').textContent = `${shown.length} ${t('rules.count')}`;
  show(byId('rules-out'), shown);
}

function topicBlock(topic, measures, open) {
  const lists = topic.lists.map((code) => {
    const list = data.lists.get(code);
    return list ? `${list.name}（${list.entries}）` : code;
  }).join('、');
  return el('details', { class: `topic ${topic.kind}`, open },
    el('summary', {}, el('span', { class: `pill ${topic.kind}` }, label('kind', topic.kind)), ' ',
      el('strong', {}, topic.name), ' ', el('code', { class: 'muted' }, topic.code),
      el('span', { class: 'muted' }, ` · ${measures.length}/${topic.measure_details.length}`)),
    el('p', { class: 'small' }, `${t('rules.lists')}: ${lists}`),
    topic.memorandum && el('p', { class: 'small' }, `${t('rules.memorandum')}: ${topic.memorandum}`),
    table([t('col.measure'), t('col.effect'), t('col.basis'), t('col.department'), t('col.matters')],
      measures.map((m) => el('tr', {},
        el('td', {}, el('strong', {}, m.name), el('br'), el('code', { class: 'muted' }, m.code),
          el('div', { class: 'small' }, m.text)),
        el('td', {}, el('span', { class: `badge ${m.effect}` }, label('effect', m.effect)),
          m.judicial ? el('div', { class: 'small' }, '司法') : null),
        el('td', { class: 'small' }, m.legal_basis),
        el('td', { class: 'small' }, m.department),
        el('td', { class: 'small' }, m.matters.map((code) =>
          el('div', {}, data.matters.get(code)?.name || code))))),
      { class: 'measures' }));
}
