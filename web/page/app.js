// The page's main-thread logic: talks to the worker (which runs the network in WebAssembly),
// and turns its replies into the bars, images and plots on the page.
//
// The message protocol is described at the top of worker.js:
// requests {id, type, ...args} -> replies {id, ok, value | error}; events {event: ...} without id.
// Nothing here computes anything about the network; it only asks and draws.

import { DrawingPad } from './draw.js';
import { LinePlot } from './plot.js';

const $ = (id) => document.getElementById(id);

// ============================================================================================
// Talking to the worker
// ============================================================================================

const worker = new Worker('worker.js');
const pending = new Map(); // id -> {type, resolve, reject}
let nextId = 1;

// Sends a request; the promise resolves with the reply's value or rejects with its error string.
// Every failure is also shown on the page, so callers only need to catch to stop their own work.
function request(type, args = {}, transfer = []) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { type, resolve, reject });
    try {
      worker.postMessage({ id, type, ...args }, transfer);
    } catch (e) {
      pending.delete(id);
      const error = `could not send the request: ${e.message}`;
      showError(`${type}: ${error}`);
      reject(error);
    }
  });
}

worker.addEventListener('message', (e) => {
  const m = e.data;
  if (m && m.event) return onEvent(m);
  const p = m && pending.get(m.id);
  if (!p) return; // a reply nobody waits for (should not happen)
  pending.delete(m.id);
  if (m.ok) return p.resolve(m.value);
  const error = String(m.error ?? 'unknown error');
  showError(`${describe(p.type)}: ${error}`);
  p.reject(error);
});

// The worker failing to load or throwing outside its own error handling; the page stays usable.
worker.addEventListener('error', (e) => {
  showError(`The worker failed: ${e.message || 'could not load worker.js'}`);
  if (!ready) setStatus('The demo could not start; see the message above.');
});
worker.addEventListener('messageerror', () => showError('A message from the worker could not be read.'));

function onEvent(m) {
  if (m.event === 'status') setStatus(m.text || (ready ? 'Ready.' : ''));
  else if (m.event === 'error') showError(String(m.text));
  else if (m.event === 'train') onTrainEvent(m);
}

const descriptions = {
  'init': 'Starting the demo', 'predict': 'Prediction', 'inspect': 'Looking inside',
  'filters': 'Reading the filters', 'nudge': 'Changing the image', 'nearest': 'Finding neighbours',
  'use': 'Switching weights', 'load-weights': 'Loading weights', 'train-start': 'Starting training',
  'train-pause': 'Pausing training', 'train-resume': 'Resuming training', 'train-lr': 'Setting the learning rate',
  'add-example': 'Adding your example', 'fine-tune': 'Fine-tuning',
};
const describe = (type) => descriptions[type] || type;

// ============================================================================================
// Messages and status
// ============================================================================================

const messages = []; // every error text shown, for tests

function showError(text) {
  messages.push(text);
  $('message').textContent = text;
  $('message-box').hidden = false;
  console.warn('[vkcnn]', text);
}
$('message-close').addEventListener('click', () => { $('message-box').hidden = true; });

function setStatus(text) { $('status').textContent = text; }

// ============================================================================================
// The pad and live prediction
// ============================================================================================

let ready = false;
let lastPrediction = null;
let activeModel = 'pretrained';
let layerKinds = new Map(); // layer path -> kind, from init (an activation may not repeat it)

const pad = new DrawingPad($('pad'), {
  onChange: () => schedulePredict(),
  onStrokeEnd: () => refreshInsideSoon(),
});
$('clear').addEventListener('click', () => pad.clear());
$('undo').addEventListener('click', () => pad.undo());
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === 'z' && !e.target.closest('input')) { e.preventDefault(); pad.undo(); }
});

// At most one predict is in flight. Strokes arriving meanwhile only set `predictWanted`, and the
// newest drawing is sent when the reply comes, so the bars never lag behind a queue of old frames.
let predictInFlight = false;
let predictWanted = false;
let idleWaiters = [];

function schedulePredict() {
  predictWanted = true;
  pumpPredict();
}

async function pumpPredict() {
  if (!ready || predictInFlight || !predictWanted) return;
  predictWanted = false;
  predictInFlight = true;
  const input = pad.gray();
  try {
    const value = await request('predict', input, [input.gray.buffer]);
    lastPrediction = value;
    showPrediction(value);
  } catch { /* shown already */ }
  predictInFlight = false;
  if (predictWanted) pumpPredict();
  else { const w = idleWaiters; idleWaiters = []; w.forEach((resolve) => resolve()); }
}

// Resolves once the bars show the prediction for the current strokes.
function idle() {
  if (ready && !predictInFlight && !predictWanted) return Promise.resolve();
  return new Promise((resolve) => idleWaiters.push(resolve));
}

const bars = makeBars($('bars'));

function showPrediction(p) {
  updateBars(bars, p.empty ? null : p.probabilities, p.top);
  $('top-label').textContent = p.empty ? '…' : String(p.top);
  drawGray($('seen'), p.image);
  pad.setGuide(p.empty ? null : { box: p.box, centre: p.centre });
  $('model-line').textContent = `Model: ${p.model === 'trained' ? 'weights being trained' : 'shipped weights'}.`;
}

// Ten rows "digit | bar | percentage", children of `container` with data-class = digit.
function makeBars(container) {
  container.replaceChildren();
  const rows = [];
  for (let k = 0; k < 10; k++) {
    const row = document.createElement('div');
    row.className = 'bar';
    row.dataset.class = String(k);
    row.innerHTML = `<span class="digit">${k}</span><span class="track"><span class="fill"></span></span><span class="pct">–</span>`;
    container.append(row);
    rows.push(row);
  }
  return rows;
}

function updateBars(rows, probabilities, top) {
  rows.forEach((row, k) => {
    const p = probabilities ? probabilities[k] : 0;
    row.querySelector('.fill').style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector('.pct').textContent = probabilities ? `${(100 * p).toFixed(1)}%` : '–';
    row.classList.toggle('top', probabilities != null && k === top);
  });
}

// ============================================================================================
// Small images: greyscale digits, colormaps, overlays
// ============================================================================================

// Fills a canvas of w x h pixels from colour(i) -> [r, g, b].
function paint(canvas, w, h, colour) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = colour(i);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

// A 28x28 image in [0,1], white ink on black, as the network sees it.
function drawGray(canvas, image, side = 28) {
  paint(canvas, side, side, (i) => { const v = 255 * clamp01(image[i]); return [v, v, v]; });
}

// Black -> purple -> red -> orange -> pale yellow: "more" reads as brighter and warmer.
const HEAT = [[0, 0, 0, 0], [0.3, 87, 16, 110], [0.55, 188, 55, 84], [0.8, 249, 142, 9], [1, 252, 255, 164]];
function heat(v) {
  v = clamp01(v);
  for (let s = 1; s < HEAT.length; s++) {
    if (v <= HEAT[s][0]) {
      const [a, b] = [HEAT[s - 1], HEAT[s]];
      const t = (v - a[0]) / (b[0] - a[0]);
      return [1, 2, 3].map((c) => a[c] + t * (b[c] - a[c]));
    }
  }
  return HEAT[HEAT.length - 1].slice(1);
}

// Blue for negative, near-white for zero, red for positive; v in [-1, 1].
function diverging(v) {
  const t = Math.min(1, Math.abs(v));
  const end = v < 0 ? [37, 99, 235] : [220, 38, 38];
  return end.map((c) => 245 + t * (c - 245));
}

// The heat map blended over the dimmed grey digit, stronger where the heat is higher.
function drawOverlay(canvas, image, heatmap) {
  paint(canvas, 28, 28, (i) => {
    const g = 140 * clamp01(image[i]);
    const h = clamp01(heatmap[i]);
    const a = 0.85 * Math.sqrt(h);
    return heat(h).map((c) => (1 - a) * g + a * c);
  });
}

function clamp01(v) { return v > 0 ? (v < 1 ? v : 1) : 0; }

function range(data, from = 0, to = data.length) {
  let lo = Infinity, hi = -Infinity;
  for (let i = from; i < to; i++) { if (data[i] < lo) lo = data[i]; if (data[i] > hi) hi = data[i]; }
  return [lo, hi];
}

const short = (v) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(2));

// ============================================================================================
// Inside the network: refreshed when a stroke ends
// ============================================================================================

let insideBusy = false;
let insideWanted = false;

function refreshInsideSoon() {
  insideWanted = true;
  runInside();
}

async function runInside() {
  if (!ready || insideBusy) return;
  insideBusy = true;
  while (insideWanted) {
    insideWanted = false;
    await idle(); // inspect/nearest act on the last predicted drawing: let it be the current one
    if (pad.isEmpty() || !lastPrediction || lastPrediction.empty) {
      $('inside').hidden = true;
      $('inside-hint').hidden = false;
      continue;
    }
    try {
      await explain(undefined);
      $('inside').hidden = false;
      $('inside-hint').hidden = true;
      showFilters(await request('filters'));
      $('nudge-result').hidden = true;
      // Last: the first call loads MNIST in the worker, which takes a moment.
      showNearest(await request('nearest', { k: 8 }));
    } catch { /* shown already */ }
  }
  insideBusy = false;
}

// inspect for class `cls` (undefined: the top class); shows activations, saliency and Grad-CAM.
async function explain(cls) {
  const v = await request('inspect', cls === undefined ? {} : { cls });
  const image = lastPrediction ? lastPrediction.image : new Float32Array(784);
  drawOverlay($('saliency'), image, v.saliency);
  drawOverlay($('gradcam'), image, v.gradcam);
  document.querySelectorAll('.explained-class').forEach((el) => { el.textContent = String(v.cls); });
  whyButtons.forEach((b, k) => b.classList.toggle('selected', k === v.cls));
  showActivations(v.activations);
}

function showActivations(layers) {
  const rows = layers.map((layer) => {
    const shape = layer.shape.length === 3 ? layer.shape
      : layer.shape.length === 1 ? [layer.shape[0], 1, 1] : [layer.data.length, 1, 1];
    const [c, h, w] = shape;
    const row = document.createElement('div');
    const label = document.createElement('div');
    label.className = 'layer-label';
    // One scale for the whole layer, so a weak channel looks weak next to a strong one.
    const [lo, hi] = range(layer.data);
    const scale = hi > lo ? 1 / (hi - lo) : 0;
    const kind = layer.kind || layerKinds.get(layer.path) || '';
    label.innerHTML = `<b></b> ${escapeHtml(kind)} · ${layer.shape.join('×')} · values ${short(lo)} … ${short(hi)}`;
    label.querySelector('b').textContent = layer.path;
    row.append(label);

    if (h * w > 1) {
      const maps = document.createElement('div');
      maps.className = 'maps';
      maps.classList.add(h >= 20 ? 'large' : h >= 10 ? 'medium' : 'small');
      for (let ch = 0; ch < c; ch++) {
        const canvas = document.createElement('canvas');
        canvas.className = 'pixelated';
        canvas.title = `${layer.path} channel ${ch}`;
        paint(canvas, w, h, (i) => heat((layer.data[ch * h * w + i] - lo) * scale));
        maps.append(canvas);
      }
      row.append(maps);
    } else {
      // A vector: one cell per value in a strip; ten values are the classes, so label them.
      const strip = document.createElement('canvas');
      strip.className = 'strip pixelated';
      strip.style.maxWidth = `${c * 28}px`;
      paint(strip, c, 1, (i) => heat((layer.data[i] - lo) * scale));
      row.append(strip);
      if (c === 10) {
        const labels = document.createElement('div');
        labels.className = 'strip-labels';
        labels.style.maxWidth = strip.style.maxWidth;
        labels.style.gridTemplateColumns = 'repeat(10, 1fr)';
        for (let k = 0; k < 10; k++) labels.append(Object.assign(document.createElement('span'), { textContent: k }));
        row.append(labels);
      }
    }
    return row;
  });
  $('activations').replaceChildren(...rows);
}

function showFilters({ shape, data }) {
  const [oc, ic, kh, kw] = shape;
  const [lo, hi] = range(data);
  const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1; // symmetric, so white means zero
  const tiles = [];
  for (let o = 0; o < oc; o++) {
    for (let i = 0; i < ic; i++) {
      const canvas = document.createElement('canvas');
      canvas.className = 'pixelated';
      canvas.title = ic > 1 ? `filter ${o}, input channel ${i}` : `filter ${o}`;
      const base = (o * ic + i) * kh * kw;
      paint(canvas, kw, kh, (j) => diverging(data[base + j] / m));
      tiles.push(canvas);
    }
  }
  $('filters').replaceChildren(...tiles);
}

function showNearest({ neighbours }) {
  const tiles = neighbours.map((n) => {
    const tile = document.createElement('div');
    tile.className = 'tile';
    const canvas = document.createElement('canvas');
    canvas.className = 'pixelated';
    canvas.title = `training image #${n.index}`;
    drawGray(canvas, n.image);
    const label = document.createElement('b');
    label.textContent = String(n.label);
    const dist = document.createElement('span');
    dist.textContent = `d ${n.distance.toFixed(2)}`;
    tile.append(canvas, label, dist);
    return tile;
  });
  $('nearest').replaceChildren(...tiles);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

// Ten digit buttons in `container`, each calling onClick(k). Disabled until the worker is ready.
function digitButtons(container, title, onClick) {
  return Array.from({ length: 10 }, (_, k) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = String(k);
    b.title = `${title} ${k}`;
    b.disabled = true;
    b.addEventListener('click', () => onClick(k));
    container.append(b);
    return b;
  });
}

const whyButtons = digitButtons($('why-buttons'), 'Explain class', async (k) => {
  if (pad.isEmpty()) return;
  await idle();
  explain(k).catch(() => {});
});

const nudgeBars = makeBars($('nudge-bars'));
const nudgeButtons = digitButtons($('nudge-buttons'), 'Make it look like a', async (target) => {
  if (pad.isEmpty()) return;
  await idle();
  nudgeButtons.forEach((b, k) => b.classList.toggle('selected', k === target));
  $('nudge-text').textContent = `Changing the image towards ${target}…`;
  $('nudge-result').hidden = false;
  try {
    const v = await request('nudge', { target });
    drawGray($('nudged'), v.image);
    updateBars(nudgeBars, v.probabilities, v.top);
    $('nudge-text').textContent = v.reached
      ? `Now read as ${target} after ${v.steps} small step${v.steps === 1 ? '' : 's'}; compare it with the image the network saw above.`
      : `Did not reach ${target} in ${v.steps} steps; it now reads as ${v.top}.`;
  } catch {
    $('nudge-text').textContent = 'Could not change the image.';
  }
});

// ============================================================================================
// Training in the page
// ============================================================================================

const plot = new LinePlot($('train-plot'), {
  xLabel: 'samples seen',
  series: [
    { name: 'loss', color: '#dc2626', axis: 'left' },
    { name: 'accuracy', color: '#2563eb', axis: 'right', min: 0, max: 1, format: (v) => `${Math.round(100 * v)}%` },
  ],
});

const train = { started: false, running: false, done: false };

function readLr() {
  const lr = Number($('lr').value);
  if (!(lr > 0 && lr <= 10)) throw new Error('bad lr');
  return lr;
}

function updateTrainControls() {
  $('train-pause').disabled = !ready || !train.started || train.done;
  $('train-pause').textContent = train.running || !train.started ? 'Pause' : 'Resume';
}

$('train-start').addEventListener('click', async () => {
  let lr;
  try { lr = readLr(); } catch { return showError('The learning rate must be a positive number.'); }
  const button = $('train-start');
  button.disabled = true; // the first start loads MNIST first: one click is enough
  plot.clear();
  ['epoch', 'samples', 'images-per-second', 'test-accuracy'].forEach((id) => { $(id).textContent = '–'; });
  try {
    await request('train-start', { lr, batch: 64, seed: 1, epochs: 1 });
    Object.assign(train, { started: true, running: true, done: false });
  } catch { /* shown already */ }
  button.disabled = false;
  updateTrainControls();
});

$('train-pause').addEventListener('click', async () => {
  try {
    const v = await request(train.running ? 'train-pause' : 'train-resume');
    train.running = v.running;
  } catch { /* shown already */ }
  updateTrainControls();
});

$('lr').addEventListener('change', () => {
  let lr;
  try { lr = readLr(); } catch { return showError('The learning rate must be a positive number.'); }
  // Before training starts the value is simply used by the next "Train from scratch".
  if (train.started && !train.done) request('train-lr', { lr }).catch(() => {});
});

function onTrainEvent(t) {
  plot.add(t.samples, [t.loss, t.accuracy]);
  $('epoch').textContent = `${t.epoch} / ${t.epochs}`;
  $('samples').textContent = Number(t.samples).toLocaleString('en-US');
  $('images-per-second').textContent = Math.round(t.imagesPerSecond).toLocaleString('en-US');
  if (t.testAccuracy != null) $('test-accuracy').textContent = `${(100 * t.testAccuracy).toFixed(2)}%`;
  Object.assign(train, { started: true, running: !!t.running, done: !!t.done });
  updateTrainControls();
  // Watching the trained model learn: re-read the current drawing with the new weights.
  if (activeModel === 'trained' && !pad.isEmpty()) schedulePredict();
}

$('use-trained').addEventListener('change', async (e) => {
  const model = e.target.checked ? 'trained' : 'pretrained';
  await switchModel(model);
});

async function switchModel(model) {
  try {
    const v = await request('use', { model });
    activeModel = v.model;
    modelChanged();
  } catch { /* shown already */ }
  $('use-trained').checked = activeModel === 'trained';
}

// New weights in use: read the drawing again and redo the inside view.
function modelChanged() {
  schedulePredict();
  refreshInsideSoon();
}

// ============================================================================================
// Teaching: the user's own examples, and fine-tuning on them
// ============================================================================================

digitButtons($('add-buttons'), 'Add my drawing as a', async (label) => {
  if (pad.isEmpty()) { $('fine-tune-result').textContent = 'Draw a digit first.'; return; }
  await idle(); // add-example takes the last predicted drawing: make sure it is this one
  try {
    const v = await request('add-example', { label });
    $('example-count').textContent = String(v.count);
    $('fine-tune-result').textContent = `Added your drawing as a ${label}.`;
  } catch { /* shown already */ }
});

$('fine-tune').addEventListener('click', async () => {
  const button = $('fine-tune');
  button.disabled = true;
  $('fine-tune-result').textContent = 'Fine-tuning…';
  try {
    const { losses } = await request('fine-tune', { steps: 50, lr: 0.01 });
    const first = losses[0], last = losses[losses.length - 1];
    $('fine-tune-result').textContent = losses.length
      ? `${losses.length} steps, loss ${first.toFixed(3)} → ${last.toFixed(3)}. Now using the fine-tuned weights.`
      : 'Done.';
    // The point of fine-tuning is to see it read your digits: switch to the tuned model.
    if (activeModel !== 'trained') await switchModel('trained');
    else modelChanged();
  } catch {
    $('fine-tune-result').textContent = '';
  }
  button.disabled = false;
});

// ============================================================================================
// Loading weights
// ============================================================================================

$('weights-file').addEventListener('change', async (e) => {
  const input = e.target;
  const file = input.files && input.files[0];
  if (!file) return;
  try {
    const bytes = await file.arrayBuffer();
    const v = await request('load-weights', { bytes, name: file.name }, [bytes]);
    showWeights(v);
    // The file went into the "shipped weights" slot; show it in use.
    if (activeModel !== 'pretrained') await switchModel('pretrained');
    else modelChanged();
  } catch (err) {
    if (err instanceof Error) showError(`Could not read ${file.name}: ${err.message}`);
  }
  input.value = ''; // so choosing the same file again fires "change" again
});

function showWeights({ source, metadata }) {
  const meta = Object.entries(metadata || {}).slice(0, 6).map(([k, v]) => `${k}: ${v}`).join(', ');
  $('weights-info').textContent = `Weights: ${source}${meta ? ` (${meta})` : ''}`;
}

// ============================================================================================
// Start-up
// ============================================================================================

async function start() {
  try {
    // ?threads=0 asks for the single-thread build even where threads would work (tests load both).
    const threads = new URLSearchParams(location.search).get('threads') !== '0';
    const v = await request('init', { threads });
    ready = true;
    document.body.dataset.ready = '1';
    document.body.dataset.variant = v.variant;
    $('variant').textContent = `WebAssembly build: ${v.variant}, ${v.threads} thread${v.threads === 1 ? '' : 's'}`
      + (window.crossOriginIsolated ? ' · cross-origin isolated' : ' · not cross-origin isolated');
    if (v.weights) showWeights(v.weights);
    layerKinds = new Map((v.layers || []).map((l) => [l.path, l.kind]));
    document.querySelectorAll('main button, main input').forEach((el) => { el.disabled = false; });
    updateTrainControls();
    setStatus('Ready. Draw a digit.');
    pumpPredict();     // anything drawn while loading
    if (!pad.isEmpty()) refreshInsideSoon();
  } catch {
    setStatus('The demo could not start; see the message above.');
    $('variant').textContent = 'not loaded';
  }
}
start();

// Hooks for the automated browser tests.
window.vkcnnDemo = {
  pad,
  request: (type, args) => request(type, args),
  get lastPrediction() { return lastPrediction; },
  idle,
  messages,
};
