// The live pipeline: topology graph, summary, per-stage cards with the conservation check, and 15-minute charts
// fed from a client-side ring of one sample per poll.
import { el, svg, count, short, bytes, seconds } from './dom.js';

const WINDOW_SECONDS = 15 * 60;

/** /api/pipeline may be written camelCase or snake_case; reason names inside `dropped` are kept as sent. */
export function normalize(value, keepKeys = false) {
  if (Array.isArray(value)) return value.map(v => normalize(v));
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    const key = keepKeys ? k : k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()).replace(/^[A-Z]/, c => c.toLowerCase());
    out[key] = normalize(v, key === 'dropped' && v !== null && typeof v === 'object');
  }
  return out;
}

const sumDrops = s => (s.dropped && typeof s.dropped === 'object' ? Object.values(s.dropped).reduce((a, b) => a + b, 0) : (s.dropped ?? 0));

/** Whether a stage's counters add up; the server's own verdict when it sent one. */
function balanced(s) {
  if (typeof s.balanced === 'boolean') return s.balanced;
  return s.received === s.sent + sumDrops(s) + (s.deadLettered ?? 0) + (s.buffered ?? 0) + (s.left ?? 0);
}

/**
 * Flow order in, graph out: sources feed the first node; the chain runs to the last worker stage (the fan-out);
 * what follows are sink lanes, each a queue then its sink. /api/pipeline lists stages in that flow order.
 */
export function topology(snapshot) {
  const stages = snapshot.stages ?? [];
  const sources = stages.filter(s => s.kind === 'source');
  const rest = stages.filter(s => s.kind !== 'source');
  let lastStage = -1;
  rest.forEach((s, i) => { if (s.kind === 'stage') lastStage = i; });
  const chain = lastStage >= 0 && rest.slice(lastStage + 1).some(s => s.kind === 'sink') ? rest.slice(0, lastStage + 1) : rest;
  const laneNodes = rest.slice(chain.length);
  const lanes = [];
  for (const s of laneNodes) {
    if (s.kind === 'buffer' || lanes.length === 0 || lanes[lanes.length - 1].length === 2) lanes.push([s]);
    else lanes[lanes.length - 1].push(s);
  }

  const edges = [];
  if (chain.length) for (const s of sources) edges.push([s.name, chain[0].name]);
  for (let i = 1; i < chain.length; i++) edges.push([chain[i - 1].name, chain[i].name]);
  const tail = chain[chain.length - 1];
  for (const lane of lanes) {
    if (tail) edges.push([tail.name, lane[0].name]);
    if (lane[1]) edges.push([lane[0].name, lane[1].name]);
  }

  // Columns: sources | each chain node | lane queues | lane sinks.
  const columns = [sources, ...chain.map(s => [s])];
  if (lanes.length) {
    columns.push(lanes.map(l => l[0]));
    if (lanes.some(l => l[1])) columns.push(lanes.map(l => l[1]).filter(Boolean));
  }
  return { columns: columns.filter(c => c.length), edges };
}

const NODE_W = 168, NODE_H = 74, GAP_X = 42, GAP_Y = 14;

function fillClass(f) { return f >= 0.9 ? 'full' : f >= 0.6 ? 'warn' : ''; }

function drawGraph(target, snapshot) {
  const { columns, edges } = topology(snapshot);
  const vertical = target.parentElement.clientWidth < 620;
  const depth = columns.length;
  const breadth = Math.max(1, ...columns.map(c => c.length));
  const mainSpan = depth * NODE_W + (depth - 1) * GAP_X;
  const crossSpan = breadth * NODE_H + (breadth - 1) * GAP_Y;
  const w = vertical ? breadth * NODE_W + (breadth - 1) * GAP_Y : mainSpan;
  const h = vertical ? depth * NODE_H + (depth - 1) * GAP_X : crossSpan;
  const pos = new Map();
  columns.forEach((col, ci) => {
    const span = col.length * (vertical ? NODE_W : NODE_H) + (col.length - 1) * GAP_Y;
    const start = ((vertical ? w : h) - span) / 2;
    col.forEach((s, ri) => {
      const along = ci * ((vertical ? NODE_H : NODE_W) + GAP_X);
      const across = start + ri * ((vertical ? NODE_W : NODE_H) + GAP_Y);
      pos.set(s.name, vertical ? { x: across, y: along } : { x: along, y: across });
    });
  });

  target.replaceChildren();
  target.setAttribute('viewBox', `-4 -4 ${w + 8} ${h + 8}`);
  target.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z' }))));
  for (const [from, to] of edges) {
    const a = pos.get(from), b = pos.get(to);
    if (!a || !b) continue;
    const d = vertical
      ? `M${a.x + NODE_W / 2},${a.y + NODE_H} C${a.x + NODE_W / 2},${a.y + NODE_H + GAP_X / 2} ${b.x + NODE_W / 2},${b.y - GAP_X / 2} ${b.x + NODE_W / 2},${b.y - 1}`
      : `M${a.x + NODE_W},${a.y + NODE_H / 2} C${a.x + NODE_W + GAP_X / 2},${a.y + NODE_H / 2} ${b.x - GAP_X / 2},${b.y + NODE_H / 2} ${b.x - 1},${b.y + NODE_H / 2}`;
    target.append(svg('path', { class: 'edge', d }));
  }
  for (const col of columns) {
    for (const s of col) {
      const { x, y } = pos.get(s.name);
      const drops = sumDrops(s);
      const g = svg('g', { class: `node ${s.kind}${s.healthy === false ? ' down' : ''}`, transform: `translate(${x},${y})`, 'data-name': s.name },
        svg('title', {}, s.name),
        svg('rect', { class: 'box', width: NODE_W, height: NODE_H, rx: 6 }),
        svg('text', { x: 8, y: 16, 'font-weight': 600 }, clip(s.name, 22)),
        svg('text', { x: 8, y: 31, class: 'sub' }, clip([s.kind, s.type, s.workers != null ? `${s.workers} worker${s.workers === 1 ? '' : 's'}` : null].filter(Boolean).join(' · '), 28)),
        svg('text', { x: 8, y: 46, class: 'sub' }, `in ${short(s.rateIn)}/s · out ${short(s.rateOut)}/s`));
      if (s.kind === 'buffer') {
        const f = Math.max(0, Math.min(1, s.fill ?? (s.capacity ? s.depth / s.capacity : 0)));
        g.append(
          svg('rect', { class: 'gauge-bg', x: 8, y: 53, width: NODE_W - 16, height: 6, rx: 3 }),
          svg('rect', { class: `gauge ${fillClass(f)}`, x: 8, y: 53, width: Math.max(f > 0 ? 2 : 0, (NODE_W - 16) * f), height: 6, rx: 3 }),
          svg('text', { x: 8, y: 70, class: drops ? 'sub bad' : 'sub' }, `${short(s.depth)}/${short(s.capacity)} · ${bytes(s.bytes)}${drops ? ` · ✗${short(drops)}` : ''}`));
      } else {
        const dl = s.deadLettered ?? 0;
        const down = s.healthy === false ? (s.failures ? ` · DOWN ×${short(s.failures)}` : ' · DOWN') : '';
        g.append(svg('text', { x: 8, y: 64, class: drops || dl || down ? 'sub bad' : 'sub' }, `drops ${short(drops)} · dead ${short(dl)}${down}`));
      }
      target.append(g);
    }
  }
}

const clip = (t, n) => (t.length > n ? t.slice(0, n - 1) + '…' : t);

function drops(s) {
  if (!s.dropped || typeof s.dropped !== 'object') return [['dropped', count(s.dropped ?? 0)]];
  const rows = Object.entries(s.dropped).filter(([, v]) => v > 0).map(([k, v]) => [`dropped: ${k}`, count(v)]);
  return rows.length ? rows : [['dropped', '0']];
}

function stageCard(s) {
  const ok = balanced(s);
  const rows = [
    ['rate in / out', `${short(s.rateIn)}/s · ${short(s.rateOut)}/s`],
    s.kind === 'buffer' ? ['depth / capacity', `${count(s.depth)} / ${count(s.capacity)}`] : null,
    s.kind === 'buffer' ? ['bytes / max', `${bytes(s.bytes)} / ${s.maxBytes != null ? bytes(s.maxBytes) : '∞'}`] : null,
    ['received', count(s.received)],
    ['sent', count(s.sent)],
    ...drops(s),
    ['dead-lettered', count(s.deadLettered ?? 0)],
    s.blockedSeconds != null ? ['blocked time', seconds(s.blockedSeconds)] : null,
    s.oldestItemAgeSeconds != null ? ['oldest item age', seconds(s.oldestItemAgeSeconds)] : null,
    s.workers != null ? ['workers', count(s.workers)] : null,
    s.healthy != null ? ['healthy', s.healthy ? 'yes' : 'no'] : null,
    s.failures ? ['failed writes', `${count(s.failures)} in ${seconds(s.failingSeconds ?? 0)}`] : null,
    s.error ? ['last error', s.error] : null,
  ].filter(Boolean);
  const f = s.kind === 'buffer' ? Math.max(0, Math.min(1, s.fill ?? 0)) : null;
  const sum = `${count(s.received)} = ${count(s.sent)} sent + ${count(sumDrops(s))} dropped + ${count(s.deadLettered ?? 0)} dead + ${count(s.buffered ?? 0)} held + ${count(s.left ?? 0)} left`;
  return el('article', { class: 'card stage', 'data-name': s.name },
    el('h3', {}, el('span', { text: s.name }), el('span', { class: 'kind', text: [s.kind, s.type].filter(Boolean).join(' · ') })),
    f != null ? el('div', { class: 'meter', title: `${Math.round(f * 100)}% full` }, meterBar(f)) : null,
    el('dl', {}, rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v, 'data-field': k.replace(/[^a-z]+/g, '-') })])),
    el('div', { class: `check ${ok ? 'ok' : 'bad'}`, title: 'received = sent + dropped + dead-lettered + held + left' }, `${ok ? '✓ balanced' : '✗ not balanced'}: ${sum}`));
}

function meterBar(f) {
  const bar = el('div', { class: fillClass(f) });
  bar.style.width = `${(f * 100).toFixed(1)}%`;  // CSSOM, which the CSP allows; a style attribute would not be.
  return bar;
}

function sinkCard(k) {
  const ok = typeof k.balanced === 'boolean' ? k.balanced : k.admitted === k.stored + k.deadLettered + k.dropped + k.inPipeline + k.left;
  return el('article', { class: 'card stage', 'data-sink': k.sink },
    el('h3', {}, el('span', { text: k.sink }), el('span', { class: 'kind', text: 'end to end' })),
    el('dl', {}, [['admitted', k.admitted], ['stored', k.stored], ['dead-lettered', k.deadLettered], ['dropped', k.dropped], ['in pipeline', k.inPipeline], ['left', k.left]]
      .flatMap(([a, b]) => [el('dt', { text: a }), el('dd', { text: count(b), 'data-field': a.replace(/[^a-z]+/g, '-') })])),
    el('div', { class: `check ${ok ? 'ok' : 'bad'}` },
      `${ok ? '✓ balanced' : '✗ not balanced'}: ${count(k.admitted)} = ${count(k.stored)} + ${count(k.deadLettered)} + ${count(k.dropped)} + ${count(k.inPipeline)} + ${count(k.left)}`));
}

function summary(snapshot) {
  const stages = snapshot.stages ?? [];
  const buffers = stages.filter(s => s.kind === 'buffer');
  const sinks = stages.filter(s => s.kind === 'sink');
  const head = buffers[0];
  const allOk = typeof snapshot.balanced === 'boolean' ? snapshot.balanced : stages.every(balanced);
  const tile = (label, value, id) => el('div', { class: 'card', id }, el('b', { text: value }), el('span', { text: label }));
  return [
    tile('lines/s in', short(head?.rateIn ?? 0), 'sum-in'),
    tile('stored/s', short(sinks.reduce((a, s) => a + s.rateOut, 0)), 'sum-out'),
    tile('main buffer', head ? `${Math.round((head.fill ?? 0) * 100)}% · ${short(head.depth)}` : '–', 'sum-fill'),
    tile('dropped', count(stages.reduce((a, s) => a + sumDrops(s), 0)), 'sum-dropped'),
    tile('dead-lettered', count(stages.reduce((a, s) => a + (s.deadLettered ?? 0), 0)), 'sum-dead'),
    tile('oldest item', seconds(Math.max(0, ...buffers.map(b => b.oldestItemAgeSeconds ?? 0))), 'sum-age'),
    tile('conservation', allOk ? '✓ balanced' : '✗ check', 'sum-balanced'),
  ];
}

/** The 15-minute ring: parallel arrays as uPlot wants them, oldest first. */
class Ring {
  constructor() { this.t = []; this.rows = new Map(); }
  push(t, values) {
    this.t.push(t);
    for (const [k, v] of Object.entries(values)) {
      if (!this.rows.has(k)) this.rows.set(k, new Array(this.t.length - 1).fill(null));
      this.rows.get(k).push(v);
    }
    for (const [k, row] of this.rows) if (!(k in values)) row.push(null);
    while (this.t.length && this.t[0] < t - WINDOW_SECONDS) { this.t.shift(); for (const row of this.rows.values()) row.shift(); }
  }
  data(keys) { return [this.t, ...keys.map(k => this.rows.get(k) ?? this.t.map(() => null))]; }
}

/** Axis labels as wall-clock time: the window is minutes long, so dates would only crowd the axis. */
const clock = t => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

const PALETTE = ['#3b82f6', '#22c55e', '#ef4444', '#f59e0b', '#a855f7', '#14b8a6', '#ec4899', '#84cc16'];

class Chart {
  constructor(target, unit) { this.target = target; this.unit = unit; this.keys = []; this.plot = null; }
  update(ring, keys) {
    if (typeof uPlot === 'undefined') return;
    if (this.plot && keys.join('|') !== this.keys.join('|')) this.destroy();
    this.keys = keys;
    const data = ring.data(keys);
    if (!this.plot) this.create(data);
    else this.plot.setData(data);
  }
  create(data) {
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue('--muted').trim(), grid = css.getPropertyValue('--line').trim();
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width: Math.max(200, this.target.clientWidth), height: 200,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(this.unit === '%' ? 100 : 1, max)] } },
      series: [{}, ...this.keys.map((k, i) => ({ label: k.replace(/^fill:/, ''), stroke: PALETTE[i % PALETTE.length], width: 1.5, value: (u, v) => (v == null ? '–' : short(v) + (this.unit === '%' ? '%' : '/s')) }))],
      axes: [{ ...axis, space: 70, values: (u, vals) => vals.map(clock) }, { ...axis, size: 48, values: (u, vals) => vals.map(v => short(v)) }],
      legend: { live: true },
    };
    this.plot = new uPlot(opts, data, this.target);
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: Math.max(200, this.target.clientWidth), height: 200 }));
    this.resize.observe(this.target);
  }
  destroy() { this.resize?.disconnect(); this.plot?.destroy(); this.plot = null; }
}

export class PipelineView {
  constructor() {
    this.ring = new Ring();
    this.rate = new Chart(document.getElementById('chart-rate'), '/s');
    this.fill = new Chart(document.getElementById('chart-fill'), '%');
    this.last = null;
  }

  /** Takes one /api/pipeline snapshot (already normalized) and redraws. */
  render(snapshot) {
    this.last = snapshot;
    const stages = snapshot.stages ?? [];
    document.getElementById('summary').replaceChildren(...summary(snapshot));
    drawGraph(document.getElementById('graph'), snapshot);
    document.getElementById('stages').replaceChildren(...stages.map(stageCard));
    document.getElementById('sinks').replaceChildren(...(snapshot.sinks ?? []).map(sinkCard));

    const t = snapshot.time ? Date.parse(snapshot.time) / 1000 : Date.now() / 1000;
    const buffers = stages.filter(s => s.kind === 'buffer');
    // "In" is what the head buffer accepted: every source's lines meet there, refused ones excluded.
    const values = {
      'in': buffers[0]?.rateIn ?? 0,
      'stored': stages.filter(s => s.kind === 'sink').reduce((a, s) => a + s.rateOut, 0),
    };
    const totalDrops = stages.reduce((a, s) => a + sumDrops(s), 0);
    if (this.prev) values['dropped'] = Math.max(0, (totalDrops - this.prev.drops) / Math.max(0.001, t - this.prev.t));
    this.prev = { t, drops: totalDrops };
    for (const b of buffers) values['fill:' + b.name] = Math.round((b.fill ?? 0) * 1000) / 10;
    this.ring.push(t, values);
    this.rate.update(this.ring, ['in', 'stored', 'dropped']);
    this.fill.update(this.ring, buffers.map(b => 'fill:' + b.name));
  }

  /** Theme switch: charts read their colours when built, so rebuild them; the graph follows CSS by itself. */
  restyle() {
    for (const c of [this.rate, this.fill]) { const keys = c.keys; c.destroy(); c.update(this.ring, keys); }
  }

  /** Layout switch (narrow/wide graph) after a resize. */
  relayout() { if (this.last) drawGraph(document.getElementById('graph'), this.last); }
}
