// The console's shell: the key, the language, the tabs, and the error line.
import { key, forget } from './api.js';
import { apply, lang, setLang, t } from './i18n.js';
import { byId, report } from './dom.js';
import * as lookup from './lookup.js';
import * as screen from './screen.js';
import * as rules from './rules.js';
import * as admin from './admin.js';
import * as status from './status.js';

const VIEWS = { lookup, screen, rules, admin, status };
let current = null;

function keyState() {
  byId('key-state').textContent = key.get() ? t('key.set') : t('key.none');
  byId('lang-toggle').textContent = t('lang.other');
}

async function open(name) {
  const view = Object.hasOwn(VIEWS, name) ? name : 'lookup';
  for (const section of document.querySelectorAll('.view')) {
    section.hidden = section.id !== `view-${view}`;
  }
  for (const tab of document.querySelectorAll('#tabs a')) {
    tab.classList.toggle('active', tab.dataset.view === view);
  }
  if (current && current !== VIEWS[view] && current.leave) current.leave();
  current = VIEWS[view];
  report(null);
  try {
    await current.enter();
  } catch (err) {
    report(err);
  }
}

function start() {
  apply();
  keyState();
  byId('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId('key-input');
    key.set(input.value.trim());
    input.value = '';
    forget();
    keyState();
    open(location.hash.slice(1));
  });
  byId('key-clear').addEventListener('click', () => {
    key.clear();
    forget();
    keyState();
  });
  byId('lang-toggle').addEventListener('click', () => {
    setLang(lang() === 'zh' ? 'en' : 'zh');
    keyState();
    for (const view of Object.values(VIEWS)) view.redraw();
  });
  for (const view of Object.values(VIEWS)) view.init();
  window.addEventListener('hashchange', () => open(location.hash.slice(1)));
  open(location.hash.slice(1));
}

start();
