// Search over stored events and the dead-letter store, through /api/search. Results page by offset inside a
// window pinned on the first page, so "older" and "newer" stay stable while new lines keep arriving.
import { el, svg } from './dom.js';
import { getJson, AuthRequired } from './api.js';

const PAGE = 50;
const RANGES = { '15m': 15 * 60e3, '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3 };

const $ = id => document.getElementById(id);

// Bucket widths the histogram picks from: the smallest giving at most BARS bars over the searched window.
const BARS = 60;
const WIDTHS = [[1e3, '1s'], [5e3, '5s'], [10e3, '10s'], [30e3, '30s'], [60e3, '1m'], [300e3, '5m'], [600e3, '10m'],
  [1800e3, '30m'], [3600e3, '1h'], [3 * 3600e3, '3h'], [6 * 3600e3, '6h'], [12 * 3600e3, '12h'], [86400e3, '1d'], [7 * 86400e3, '7d']];
const widthFor = spanMs => WIDTHS.find(([ms]) => spanMs / ms <= BARS) ?? WIDTHS[WIDTHS.length - 1];

export class SearchView {
  constructor(onAuth) {
    this.onAuth = onAuth;
    this.dead = false;
    this.offset = 0;
    this.window = null;   // { since, until } as ISO strings, pinned by the first page of a search
    this.seq = 0;         // answers to superseded searches are ignored
    $('search').addEventListener('submit', e => { e.preventDefault(); this.run(true); });
    $('range').addEventListener('change', () => { $('custom').hidden = $('range').value !== 'custom'; });
    $('older').addEventListener('click', () => { this.offset += PAGE; this.run(false); });
    $('newer').addEventListener('click', () => { this.offset = Math.max(0, this.offset - PAGE); this.run(false); });
    $('detail-close').addEventListener('click', () => this.closeDetail());
    $('q').addEventListener('input', () => this.clearError());
    this.histogram = new Histogram($('hist-chart'), (from, to) => this.narrow(from, to));
  }

  /** A drag on the histogram: the window becomes [from, to) as a custom range, searched at once. */
  narrow(from, to) {
    const local = d => {
      const p = n => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };
    // The inputs hold whole seconds: widen outwards so nothing the band covered falls outside.
    $('from').value = local(new Date(Math.floor(from / 1000) * 1000));
    $('to').value = local(new Date(Math.ceil(to / 1000) * 1000));
    $('range').value = 'custom';
    $('custom').hidden = false;
    this.run(true);
  }

  /** Switches between events and dead letters, searching at once. */
  show(dead) {
    if (this.dead !== dead || !this.ran) { this.dead = dead; this.run(true); }
  }

  /** The time window for a new search; relative ranges end at the server's "now", learnt from its answer. */
  windowFor(range) {
    if (range === 'custom') {
      const iso = v => (v ? new Date(v).toISOString() : null);
      return { since: iso($('from').value), until: iso($('to').value), relative: null };
    }
    return { since: null, until: null, relative: RANGES[range] ?? null };
  }

  async run(reset) {
    this.ran = true;
    const seq = ++this.seq;
    if (reset) { this.offset = 0; this.window = this.windowFor($('range').value); }
    const w = this.window;
    const p = new URLSearchParams();
    const q = $('q').value;
    if (q.trim()) p.set('q', q);
    if (w.since) p.set('since', w.since);
    else if (w.relative) p.set('since', Math.round(w.relative / 1000) + 's');
    if (w.until) p.set('until', w.until);
    p.set('limit', String(PAGE));
    if (this.offset) p.set('offset', String(this.offset));
    if (this.dead) p.set('dead_letters', 'true');
    // The first page also asks for the histogram of every match in the window; paging keeps it.
    let width = null;
    if (reset) {
      const span = w.since && w.until ? new Date(w.until) - new Date(w.since) : w.relative;
      width = span ? widthFor(span) : [86400e3, '1d'];
      p.set('histogram', width[1]);
      p.set('total', '1');
    }
    $('result-info').textContent = 'searching…';
    let answer;
    try {
      answer = await getJson('/api/search?' + p);
    } catch (e) {
      if (seq !== this.seq) return;
      if (e instanceof AuthRequired) { this.onAuth(); return; }
      $('result-info').textContent = 'search failed: ' + e.message;
      return;
    }
    if (seq !== this.seq) return;
    const { status, body, date } = answer;
    if (status !== 200) { this.showError(q, body, status); return; }
    this.clearError();
    // Pin the window on the first page: later pages must not shift as lines arrive.
    if (reset && date && !w.until) {
      w.until = new Date(date.getTime() + 1000).toISOString();
      if (w.relative) w.since = new Date(date.getTime() - w.relative).toISOString();
    }
    const rows = this.dead ? body.dead_letters ?? [] : body.events ?? [];
    this.render(rows);
    if (reset) this.showHistogram(body, width[0], w);
    const from = rows.length ? this.offset + 1 : 0;
    $('result-info').textContent = `${this.dead ? 'dead letters' : 'events'} ${from}–${this.offset + rows.length}${body.truncated ? ' (more older)' : ''}`;
    $('older').disabled = !body.truncated;
    $('newer').disabled = this.offset === 0;
  }

  /** Bars over the pinned window (over the buckets' own span for "all time"), and the total above them. */
  showHistogram(body, widthMs, w) {
    const buckets = (body.histogram ?? []).map(b => ({ t: new Date(b.time).getTime(), n: b.count }));
    const first = buckets.length ? buckets[0].t : Date.now();
    const last = buckets.length ? buckets[buckets.length - 1].t + widthMs : first + widthMs;
    const from = w.since ? Math.min(new Date(w.since).getTime(), first) : first;
    const to = w.until ? Math.max(new Date(w.until).getTime(), last) : last;
    this.histogram.draw(buckets, widthMs, from, to);
    const total = body.total ?? buckets.reduce((a, b) => a + b.n, 0);
    $('hist-total').textContent = `${total.toLocaleString('en-US')} ${this.dead ? 'dead letters' : 'events'}`;
    $('hist-from').textContent = shortTime(new Date(from).toISOString());
    $('hist-to').textContent = shortTime(new Date(to).toISOString());
    $('histogram').hidden = false;
  }

  render(rows) {
    this.closeDetail();
    const head = this.dead
      ? [['time', 'col-time'], ['source', 'col-source'], ['parser', 'col-sev'], ['reason', 'col-reason'], ['raw line', 'col-body']]
      : [['time', 'col-time'], ['sev', 'col-sev'], ['source', 'col-source'], ['body', 'col-body']];
    $('results-head').replaceChildren(...head.map(([t, c]) => el('th', { class: c, scope: 'col', text: t })));
    $('results-body').replaceChildren(...rows.map(r => this.row(r)));
    if (!rows.length) $('results-body').append(el('tr', {}, el('td', { colspan: head.length, class: 'empty', text: 'nothing matched' })));
  }

  row(r) {
    const cells = this.dead
      ? [el('td', { text: shortTime(r.time) }), el('td', { class: 'source', text: r.source }), el('td', { text: r.parser }), el('td', { text: r.reason }), el('td', { class: 'body', text: r.raw_line })]
      : [el('td', { text: shortTime(r.timestamp ?? r.observed_timestamp), title: r.timestamp ?? r.observed_timestamp }),
        el('td', { class: 'sev-' + String(r.severity_text ?? '').toLowerCase(), text: r.severity_text ?? '' }),
        el('td', { class: 'source', text: r.source }),
        el('td', { class: 'body', text: r.body })];
    const tr = el('tr', { tabindex: 0 }, cells);
    const open = () => { for (const x of $('results-body').children) x.classList.remove('selected'); tr.classList.add('selected'); this.openDetail(r); };
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', e => { if (e.key === 'Enter') open(); });
    return tr;
  }

  openDetail(r) {
    const fields = [];
    const add = (k, v) => fields.push(el('dt', { text: k }), el('dd', { text: v === null || v === undefined ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v) }));
    for (const [k, v] of Object.entries(r)) {
      if ((k === 'attributes' || k === 'resource') && v && typeof v === 'object') {
        for (const [ak, av] of Object.entries(v)) add(`${k}.${ak}`, av);
      } else add(k, v);
    }
    $('detail-title').textContent = this.dead ? 'Dead letter ' + r.id : 'Event ' + r.id;
    $('detail-fields').replaceChildren(...fields);
    $('detail').hidden = false;
    // Below the table on narrow screens it would be out of sight; beside it on wide ones it already shows.
    if (matchMedia('(max-width: 1099px)').matches) $('detail').scrollIntoView({ block: 'nearest' });
  }

  closeDetail() { $('detail').hidden = true; }

  /** A 400: the message, and for a query error the query again with a caret under the column. */
  showError(q, body, status) {
    $('results-body').replaceChildren();
    $('older').disabled = $('newer').disabled = true;
    const message = body?.error ?? `search failed (HTTP ${status})`;
    $('result-info').textContent = '';
    $('q-message').textContent = message;
    const col = body?.parameter === 'q' && Number.isInteger(body.column) ? body.column : null;
    $('q-echo').textContent = col ? q : '';
    $('q-caret').textContent = col ? ' '.repeat(Math.max(0, col - 1)) + '^' : '';
    $('q-echo').hidden = $('q-caret').hidden = !col;
    $('q-error').hidden = false;
    if (col) {
      $('q').setAttribute('aria-invalid', 'true');
      $('q').setSelectionRange(col - 1, Math.min(q.length, col));
    }
  }

  clearError() { $('q-error').hidden = true; $('q').removeAttribute('aria-invalid'); }
}

/**
 * The histogram's SVG: one bar per non-empty bucket, placed by time on a 1000-unit-wide viewBox, and a band while the
 * pointer drags; releasing after a drag of a few pixels reports the band as times, a click reports the bucket under it.
 */
class Histogram {
  constructor(chart, onNarrow) {
    this.chart = chart;
    this.onNarrow = onNarrow;
    this.span = null;
    chart.setAttribute('viewBox', '0 0 1000 100');
    chart.addEventListener('pointerdown', e => this.down(e));
    chart.addEventListener('pointermove', e => this.move(e));
    chart.addEventListener('pointerup', e => this.up(e));
    chart.addEventListener('pointercancel', () => this.cancel());
  }

  draw(buckets, widthMs, from, to) {
    this.span = { from, to, widthMs, buckets };
    const max = Math.max(1, ...buckets.map(b => b.n));
    const x = t => ((t - from) / (to - from)) * 1000;
    const bars = buckets.map(b => {
      const left = x(b.t);
      const h = Math.max(2, (b.n / max) * 96);
      return svg('rect', { class: 'bar', x: left.toFixed(2), y: (100 - h).toFixed(2), width: Math.max(1, x(b.t + widthMs) - left - 0.5).toFixed(2), height: h.toFixed(2), 'data-time': new Date(b.t).toISOString(), 'data-count': b.n },
        svg('title', { text: `${shortTime(new Date(b.t).toISOString())}: ${b.n.toLocaleString('en-US')}` }));
    });
    this.band = svg('rect', { class: 'band', x: 0, y: 0, width: 0, height: 100, visibility: 'hidden' });
    this.chart.replaceChildren(...bars, this.band);
  }

  /** The time under a pointer event, from its position across the chart. */
  timeAt(e) {
    const r = this.chart.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    return { f, t: this.span.from + f * (this.span.to - this.span.from), px: e.clientX };
  }

  down(e) {
    if (!this.span || e.button !== 0) return;
    this.drag = this.timeAt(e);
    this.chart.setPointerCapture(e.pointerId);
  }

  move(e) {
    if (!this.drag) return;
    const at = this.timeAt(e);
    const a = Math.min(this.drag.f, at.f) * 1000, b = Math.max(this.drag.f, at.f) * 1000;
    this.band.setAttribute('x', a.toFixed(2));
    this.band.setAttribute('width', (b - a).toFixed(2));
    this.band.setAttribute('visibility', 'visible');
  }

  up(e) {
    if (!this.drag) return;
    const start = this.drag, end = this.timeAt(e);
    this.cancel();
    if (Math.abs(end.px - start.px) >= 4) {
      this.onNarrow(Math.min(start.t, end.t), Math.max(start.t, end.t));
      return;
    }
    // A click: the bucket under the pointer, if it has a bar.
    const hit = this.span.buckets.find(b => end.t >= b.t && end.t < b.t + this.span.widthMs);
    if (hit) this.onNarrow(hit.t, hit.t + this.span.widthMs);
  }

  cancel() {
    this.drag = null;
    this.band?.setAttribute('visibility', 'hidden');
  }
}

/** "2026-11-27T07:01:02.123+00:00" → "11-27 07:01:02.123" in the browser's zone. */
function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
