// The dashboard shell: tabs, theme, sign-in, and the once-a-second poll of /api/pipeline.
import { getJson, takeTokenFromFragment, setToken, AuthRequired } from './api.js';
import { PipelineView, normalize } from './pipeline.js';
import { SearchView } from './search.js';

const $ = id => document.getElementById(id);
const POLL_MS = 1000;

takeTokenFromFragment();
applyTheme(localStorage.getItem('conveyor.theme'));

const pipeline = new PipelineView();
const search = new SearchView(needToken);
let signedOut = false;

function applyTheme(theme) {
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

$('theme').addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === 'dark'
    : matchMedia('(prefers-color-scheme: dark)').matches;
  const next = dark ? 'light' : 'dark';
  localStorage.setItem('conveyor.theme', next);
  applyTheme(next);
  pipeline.restyle();
});

function selectTab(id) {
  for (const t of document.querySelectorAll('.tabs button')) t.setAttribute('aria-selected', String(t.id === id));
  $('view-pipeline').hidden = id !== 'tab-pipeline';
  $('view-search').hidden = id === 'tab-pipeline';
  if (id !== 'tab-pipeline') search.show(id === 'tab-dead');
}
for (const t of document.querySelectorAll('.tabs button')) t.addEventListener('click', () => selectTab(t.id));

function needToken() {
  signedOut = true;
  document.querySelector('main').hidden = true;
  $('login').hidden = false;
  $('status').textContent = 'sign-in required';
  $('login-token').focus();
}

$('login').addEventListener('submit', async e => {
  e.preventDefault();
  setToken($('login-token').value);
  try {
    await getJson('/api/pipeline');
  } catch (err) {
    if (err instanceof AuthRequired) { $('login-error').hidden = false; return; }
  }
  signedOut = false;
  $('login').hidden = true;
  $('login-error').hidden = true;
  document.querySelector('main').hidden = false;
  poll();
});

let resizeFrame = 0;
addEventListener('resize', () => { cancelAnimationFrame(resizeFrame); resizeFrame = requestAnimationFrame(() => pipeline.relayout()); });

async function poll() {
  if (signedOut) return;
  try {
    const { status, body } = await getJson('/api/pipeline');
    if (status === 200 && body) {
      const snapshot = normalize(body);
      pipeline.render(snapshot);
      const stamp = new Date(snapshot.time ?? Date.now()).toLocaleTimeString();
      $('status').textContent = `live · ${stamp}`;
      $('status').classList.remove('bad');
    } else {
      $('status').textContent = `pipeline unavailable (HTTP ${status})`;
      $('status').classList.add('bad');
    }
  } catch (e) {
    if (e instanceof AuthRequired) { needToken(); return; }
    $('status').textContent = 'server unreachable';
    $('status').classList.add('bad');
  }
  setTimeout(poll, POLL_MS);
}

poll();
