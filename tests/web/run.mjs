// Browser tests of the vkcnn demo page (web/page/), in Debian's Chromium driven by playwright-core.
//
//   node tests/web/run.mjs --site build-wasm/web/site --data data [--artifacts DIR]
//        [--reference build/web/vkcnn_web_reference] [--cli build/tools/vkcnn] [--chromium /usr/bin/chromium]
//        [--every 50] [--sizes 1,0.7,0.5]   (which test digits, and at which sizes; see SIZES)
//
// (scripts/web.sh test builds the site and runs this.) Prints one line per check with its figures
// and exits 1 if any check fails. The checks:
//   1. MNIST test digits, thinned to strokes and drawn on the pad with real pointer events at three
//      sizes, are read right (>= 97%), and the bars show the same top class.
//   2. The page's 28x28 preprocessing equals the native code's, byte for byte.
//   3. Training in the page gives the native losses (the portable GEMM the wasm build runs).
//   4. Both WebAssembly builds load (threaded and ?threads=0) and read a digit right.
//   5. Screenshots, desktop and phone (drawn with touch events there).
//   6. Bad input (truncated weights, another model's checkpoint, missing MNIST) gives an error on
//      the page and leaves the worker alive.
//
// The page's test hooks are documented in web/page/app.js (window.vkcnnDemo, body data-ready/variant).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { loadMnist } from './mnist.mjs';
import { digitStrokes } from './strokes.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// playwright-core lives in web/node_modules (web/package.json), not beside this file.
const { chromium } = createRequire(path.join(repo, 'web/package.json'))('playwright-core');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const fromRepo = (p) => path.resolve(repo, p);
const SITE = fromRepo(option('site', 'build-wasm/web/site'));
const DATA = fromRepo(option('data', 'data'));
const ARTIFACTS = fromRepo(option('artifacts', 'build-wasm/web/test-artifacts'));
const REFERENCE = fromRepo(option('reference', 'build/web/vkcnn_web_reference'));
const CLI = fromRepo(option('cli', 'build/tools/vkcnn'));
const CHROMIUM = option('chromium', '/usr/bin/chromium');

const DRAW_EVERY = Number(option('every', '50')); // test images 0, 50, 100, ...: 200 drawings
// The sizes the digits are drawn at, in turn: the 28-pixel MNIST frame spans this fraction of the
// pad's side. The pen is 1/14 of the side wide, so at 1 a stroke is 2 MNIST pixels wide (MNIST's
// own are 2-3), at 0.5 it is 4: a digit drawn small comes out bold. (On a 280 px pad these are 10,
// 7 and 5 px per MNIST pixel.)
const SIZES = option('sizes', '1,0.7,0.5').split(',').map(Number);
const ACCURACY_NEEDED = 0.97;
const PREPROCESS_CHECKS = 6;    // drawings whose preprocessing is compared with the native one
const TRAIN = { steps: 20, seed: 1, lr: 0.05, batch: 64 };
const TRAIN_TOLERANCE = 1e-4;   // relative, per step
const READY_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 60_000; // one request or drawing
const TOTAL_TIMEOUT_MS = 480_000; // under ctest -j beside the other tests (about 60 s alone)

// --- reporting ----------------------------------------------------------------------------------

const results = [];
function check(name, pass, detail) {
  results.push({ name, pass });
  console.log(`${pass ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
}
const note = (text) => console.log(`     ${text}`);

// A hung page must fail the run, not hang it.
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms); }),
  ]);
}

// A deterministic pseudo-random generator (mulberry32), so every run draws at the same places.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- the server -------------------------------------------------------------------------------

// The servers still running, stopped on any exit (also the watchdog's).
const servers = new Set();
process.on('exit', () => servers.forEach((child) => child.kill()));

// Starts web/serve.mjs on a free port; resolves with {url, stop} once it says it is listening.
function serve(root, data) {
  const child = spawn(process.execPath, [path.join(repo, 'web/serve.mjs'), '--root', root, '--data', data, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(child);
  child.on('exit', () => servers.delete(child));
  let log = '';
  return withTimeout(new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      log += chunk;
      const m = /serving (http:\/\/localhost:\d+\/)/.exec(log);
      if (m) resolve({ url: m[1], stop: () => child.kill() });
    });
    child.stderr.on('data', (chunk) => { log += chunk; });
    child.on('exit', (code) => reject(new Error(`web/serve.mjs exited (${code}) before listening:\n${log}`)));
  }), 15_000, 'web/serve.mjs');
}

// --- the page ---------------------------------------------------------------------------------

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];

// Opens the page and waits until the module and the weights are loaded. Page errors and console
// errors are kept in page.vkcnnLog, to explain a failure.
async function openPage(context, url) {
  const page = await context.newPage();
  page.vkcnnLog = [];
  page.on('pageerror', (e) => page.vkcnnLog.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.vkcnnLog.push(`console: ${m.text()}`); });
  await page.goto(url);
  try {
    await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
  } catch (e) {
    const shown = await page.evaluate(() => (window.vkcnnDemo ? window.vkcnnDemo.messages : ['(no window.vkcnnDemo)'])).catch(() => []);
    throw new Error(`${url} did not become ready: ${[...shown, ...page.vkcnnLog].join(' | ') || e.message}`);
  }
  return page;
}

async function padBox(page) {
  const pad = page.locator('#pad');
  await pad.scrollIntoViewIfNeeded();
  return pad.boundingBox();
}

// Where on the page (CSS px) each skeleton pixel of a digit goes: the digit's box scaled by
// `scale` and placed at a pseudo-random offset inside the pad, clear of its edge by one stroke.
function placeStrokes({ strokes, box }, pad, scale, rand) {
  const margin = pad.width / 14;
  const w = (box.x1 - box.x0 + 1) * scale, h = (box.y1 - box.y0 + 1) * scale;
  const ox = margin + rand() * Math.max(0, pad.width - w - 2 * margin);
  const oy = margin + rand() * Math.max(0, pad.height - h - 2 * margin);
  return strokes.map((s) => s.map((p) => ({
    x: pad.x + ox + (p.x - box.x0 + 0.5) * scale,
    y: pad.y + oy + (p.y - box.y0 + 0.5) * scale,
  })));
}

// Draws with the mouse: one press..release per stroke (pointerdown..pointerup on the pad), a move
// per skeleton pixel; a single pixel is a dab: press, a one-pixel move, release. The events go
// through the DevTools protocol's Input.dispatchMouseEvent, which is what page.mouse sends too,
// but without waiting for each event's acknowledgement: the browser acknowledges input once per
// frame, so awaiting every move costs ~17 ms and 200 digits would take minutes. The protocol keeps
// the order; moves arriving within one frame become one pointermove with coalesced events, the
// way a fast real mouse's do, and the pad reads all of them (getCoalescedEvents).
async function drawWithMouse(page, strokes) {
  const cdp = await page.context().newCDPSession(page);
  const send = (type, p, buttons) => cdp.send('Input.dispatchMouseEvent', { type, x: p.x, y: p.y, button: 'left', buttons, clickCount: 1 });
  for (const s of strokes) {
    const sent = [send('mousePressed', s[0], 1)];
    if (s.length === 1) sent.push(send('mouseMoved', { x: s[0].x + 1, y: s[0].y }, 1));
    for (const p of s.slice(1)) sent.push(send('mouseMoved', p, 1));
    sent.push(send('mouseReleased', s[s.length - 1], 0));
    await Promise.all(sent);
  }
  await cdp.detach();
}

// Draws with a finger, through the DevTools protocol's touch input (a hasTouch context), which
// goes through Chromium's input pipeline like a real touch screen: touch -> pointer events.
async function drawWithTouch(page, strokes) {
  const cdp = await page.context().newCDPSession(page);
  const send = (type, p) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: p ? [{ x: p.x, y: p.y }] : [] });
  for (const s of strokes) {
    const sent = [send('touchStart', s[0])];
    if (s.length === 1) sent.push(send('touchMove', { x: s[0].x + 1, y: s[0].y }));
    for (const p of s.slice(1)) sent.push(send('touchMove', p));
    sent.push(send('touchEnd', null));
    await Promise.all(sent);
  }
  await cdp.detach();
}

// The prediction for what is on the pad now (after the last stroke's predict came back), and the
// class the bars mark as top.
function settledPrediction(page) {
  return withTimeout(page.evaluate(async () => {
    await window.vkcnnDemo.idle();
    const p = window.vkcnnDemo.lastPrediction;
    const top = document.querySelector('#bars .top');
    return { empty: p ? p.empty : true, top: p ? p.top : -1, bars: top ? Number(top.dataset.class) : -1 };
  }), STEP_TIMEOUT_MS, 'waiting for the prediction');
}

async function clearPad(page) {
  await page.click('#clear');
}

// Draws MNIST test image i at `size` (see SIZES) and returns the settled prediction.
async function drawDigit(page, mnist, i, size, rand, how = drawWithMouse) {
  const pad = await padBox(page);
  const placed = placeStrokes(digitStrokes(mnist.image(i)), pad, size * pad.width / 28, rand);
  await withTimeout(how(page, placed), STEP_TIMEOUT_MS, `drawing test image ${i}`);
  return settledPrediction(page);
}

// For the screenshots: after a drawing the page fills "Inside the network" on its own, the nearest
// training digits last (their first request loads MNIST). Waits for those, for a complete picture;
// the screenshot is taken anyway if they do not come.
async function insideShown(page) {
  await page.waitForSelector('#nearest > *', { timeout: 20_000 }).catch(() => note('(the nearest digits did not appear within 20 s)'));
}

// A page request through the page's own request(): resolves {ok, value} or {ok: false, error}.
function pageRequest(page, type, args) {
  return withTimeout(page.evaluate(([t, a]) => window.vkcnnDemo.request(t, a)
    .then((value) => ({ ok: true, value }), (error) => ({ ok: false, error: String(error) })), [type, args]),
  STEP_TIMEOUT_MS, `request ${type}`);
}

// Predicts the pad's current drawing directly (not through the bars), to see the worker answer.
function predictNow(page) {
  return withTimeout(page.evaluate(() => window.vkcnnDemo.request('predict', window.vkcnnDemo.pad.gray())
    .then((v) => ({ ok: true, top: v.top, empty: v.empty }), (error) => ({ ok: false, error: String(error) }))),
  STEP_TIMEOUT_MS, 'predict');
}

// --- the native reference -----------------------------------------------------------------------

function reference(args) {
  const r = spawnSync(REFERENCE, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error || r.status !== 0) throw new Error(`${REFERENCE} ${args.join(' ')}: ${r.error ? r.error.message : r.stderr.trim()}`);
  return r.stdout;
}

// --- the checks ---------------------------------------------------------------------------------

// 1 + 2: the drawings, and on a few of them the preprocessing against C++.
async function checkDrawings(page, mnist, tmp) {
  const rand = random(20240611);
  const perSize = new Map(SIZES.map((s) => [s, { right: 0, total: 0 }]));
  const misread = [];
  let barsDisagree = 0, empty = 0;
  const preprocess = [];
  const t0 = Date.now();
  const pad = await padBox(page);
  const px = (size) => `${(size * pad.width / 28).toFixed(1)}px`; // CSS px per MNIST pixel
  note(`pad ${pad.width.toFixed(0)}x${pad.height.toFixed(0)} CSS px; drawing every ${DRAW_EVERY}th MNIST test digit, `
    + `${SIZES.map(px).join(', ')} per MNIST pixel in turn`);
  // For comparison: the same test images as they are (28x28, not drawn) through the page's
  // preprocessing and network. What the drawings lose against this is the drawing's doing.
  const indices = Array.from({ length: Math.ceil(mnist.count / DRAW_EVERY) }, (_, k) => k * DRAW_EVERY);
  const raw = await withTimeout(page.evaluate(async (images) => {
    const tops = [];
    for (const image of images) {
      tops.push((await window.vkcnnDemo.request('predict', { gray: Float32Array.from(image, (v) => v / 255), width: 28, height: 28 })).top);
    }
    return tops;
  }, indices.map((i) => Array.from(mnist.image(i)))), STEP_TIMEOUT_MS, 'predicting the MNIST images');
  const rawRight = raw.filter((top, k) => top === mnist.label(indices[k])).length;
  note(`the same ${indices.length} test images undrawn (28x28 as they are) are read ${(100 * rawRight / indices.length).toFixed(1)}% right`);

  let k = 0;
  for (let i = 0; i < mnist.count; i += DRAW_EVERY, k++) {
    const size = SIZES[k % SIZES.length];
    const got = await drawDigit(page, mnist, i, size, rand);
    const label = mnist.label(i);
    const stats = perSize.get(size);
    stats.total++;
    if (got.top === label && !got.empty) stats.right++;
    else misread.push(`#${i} ${label}->${got.empty ? 'empty' : got.top} (${px(size)})`);
    if (got.bars !== got.top) barsDisagree++;
    if (got.empty) empty++;
    // The first drawings of every size also go to the byte-for-byte preprocessing check.
    if (k < PREPROCESS_CHECKS) preprocess.push({ i, size, ...(await comparePreprocessing(page, tmp, i)) });
    await clearPad(page);
  }
  const right = [...perSize.values()].reduce((s, v) => s + v.right, 0);
  const total = [...perSize.values()].reduce((s, v) => s + v.total, 0);
  const sizes = [...perSize].map(([s, v]) => `${px(s)} ${(100 * v.right / v.total).toFixed(1)}% (${v.right}/${v.total})`).join(', ');
  check('drawn MNIST digits are read right', right / total >= ACCURACY_NEEDED,
    `${(100 * right / total).toFixed(1)}% (${right}/${total}; needed ${100 * ACCURACY_NEEDED}%); ${sizes}; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (misread.length) note(`misread (index label->prediction): ${misread.join(', ')}`);
  check('the bars show the prediction', barsDisagree === 0 && empty === 0,
    `${total - barsDisagree}/${total} drawings with the predicted class marked top in #bars; ${empty} read as empty`);

  const same = preprocess.filter((p) => p.differing === 0 && !p.floatsDiffering);
  const describe = (p) => {
    const bytes = p.differing === 0 ? '784/784 bytes equal' : `${p.differing} bytes differ (by up to ${p.maxDiff})`;
    const floats = p.floatsDiffering === null ? '' : p.floatsDiffering === 0 ? ', floats bitwise equal' : `, ${p.floatsDiffering} floats differ`;
    return `#${p.i} at ${px(p.size)}: ${bytes}${floats}`;
  };
  check('preprocessing equals C++ byte for byte', preprocess.length >= 5 && same.length === preprocess.length,
    preprocess.map(describe).join('; '));
}

// The pad's ink as bytes -> the native preprocessing -> compared with the page's 28x28 image.
// The reference writes the image as 784 little-endian float32s: those are compared bit for bit,
// and so are the bytes round(255 * pixel) (an older reference wrote just those 784 bytes).
async function comparePreprocessing(page, tmp, i) {
  const { width, height, ink, seen } = await page.evaluate(() => {
    const { gray, width, height } = window.vkcnnDemo.pad.gray();
    // Array.from keeps every float32 exactly (as a double), so nothing is rounded on the way.
    return { width, height, ink: Array.from(gray, (g) => Math.round(g * 255)), seen: Array.from(window.vkcnnDemo.lastPrediction.image) };
  });
  const input = path.join(tmp, `ink-${i}.bin`), output = path.join(tmp, `seen-${i}.bin`);
  fs.writeFileSync(input, Uint8Array.from(ink));
  reference(['preprocess', String(width), String(height), input, output]);
  const file = fs.readFileSync(output);
  const floats = file.length === 4 * 784;
  const native = floats ? Array.from({ length: 784 }, (_, j) => file.readFloatLE(4 * j)) : Array.from(file, (b) => b / 255);
  if (native.length !== 784 || seen.length !== 784) return { differing: 784, floatsDiffering: 784, maxDiff: NaN };
  const byte = (v) => Math.round(255 * v);
  let differing = 0, floatsDiffering = 0, maxDiff = 0;
  for (let j = 0; j < 784; j++) {
    if (floats && native[j] !== seen[j]) floatsDiffering++;
    const d = Math.abs(byte(native[j]) - byte(seen[j]));
    if (d) { differing++; maxDiff = Math.max(maxDiff, d); }
  }
  return { differing, floatsDiffering: floats ? floatsDiffering : null, maxDiff };
}

// 3: the same SGD steps in the page and natively.
async function checkTraining(page) {
  const t0 = Date.now();
  const r = await pageRequest(page, 'train-steps', TRAIN);
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (!r.ok) return check('training equals native', false, `train-steps failed: ${r.error}`);
  // The tool prints 9 significant digits, which name a float32 exactly: back to that float.
  const native = reference(['losses', DATA, String(TRAIN.steps), String(TRAIN.seed), String(TRAIN.lr), String(TRAIN.batch), 'generic'])
    .trim().split(/\s+/).map((v) => Math.fround(Number(v)));
  const web = r.value.losses;
  if (web.length !== native.length) {
    return check('training equals native', false, `${web.length} losses in the page, ${native.length} natively`);
  }
  let maxAbs = 0, maxRel = 0, bitwise = 0;
  const rows = web.map((w, s) => {
    const abs = Math.abs(w - native[s]), rel = abs / Math.max(Math.abs(native[s]), 1e-30);
    maxAbs = Math.max(maxAbs, abs);
    maxRel = Math.max(maxRel, rel);
    if (w === native[s]) bitwise++;
    return `${s + 1}:${w.toFixed(6)}/${native[s].toFixed(6)} (${rel.toExponential(1)})`;
  });
  note(`per step, page/native (relative difference): ${rows.join(' ')}`);
  check('training equals native', maxRel <= TRAIN_TOLERANCE,
    `${TRAIN.steps} steps (seed ${TRAIN.seed}, lr ${TRAIN.lr}, batch ${TRAIN.batch}) in ${seconds} s; largest difference `
    + `${maxAbs.toExponential(2)} absolute, ${maxRel.toExponential(2)} relative (allowed ${TRAIN_TOLERANCE}); `
    + `${bitwise}/${web.length} steps bitwise equal${bitwise === web.length ? ' (bitwise identical)' : ''}`);
}

// 4: one build, one drawing: test image 0 (a 7).
async function checkBuild(context, url, wanted, mnist) {
  const page = await openPage(context, url);
  const variant = await page.evaluate(() => document.body.dataset.variant);
  const shown = await page.locator('#variant').textContent();
  const got = await drawDigit(page, mnist, 0, 1, random(7));
  check(`${wanted} build loads and predicts`, variant === wanted && got.top === mnist.label(0),
    `${url}: data-variant '${variant}' (wanted '${wanted}'), #variant "${shown.trim()}", test image 0 (${mnist.label(0)}) read as ${got.top}`);
  return page;
}

// 5 (phone) + the touch drawing check.
async function checkPhone(browser, url, mnist) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true });
  try {
    const page = await openPage(context, url);
    const i = 1; // a 2
    const got = await drawDigit(page, mnist, i, 0.7, random(11), drawWithTouch);
    check('touch drawing is read right', got.top === mnist.label(i), `test image ${i} (${mnist.label(i)}) drawn with touch events, read as ${got.empty ? 'empty' : got.top}`);
    await insideShown(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-screen.png') });
    note(`screenshots ${path.join(ARTIFACTS, 'phone.png')} (390x844 at 2x, full page) and phone-screen.png (what the screen shows)`);
  } finally {
    await context.close();
  }
}

// 6: bad input. `page` has a digit drawn (test image `i`) whose reading must survive each failure.
async function checkBadInput(page, i, mnist, tmp) {
  const label = mnist.label(i);
  const alive = async () => {
    const p = await predictNow(page);
    return { ok: p.ok && !p.empty && p.top === label, text: p.ok ? `predict after it: ${p.top}` : `predict after it failed: ${p.error}` };
  };

  // (a) the shipped weights, cut after 1000 bytes.
  const truncated = await withTimeout(page.evaluate(async () => {
    const bytes = (await (await fetch('lenet5.safetensors')).arrayBuffer()).slice(0, 1000);
    return window.vkcnnDemo.request('load-weights', { bytes, name: 'lenet5-truncated.safetensors' })
      .then(() => ({ ok: true }), (error) => ({ ok: false, error: String(error) }));
  }), STEP_TIMEOUT_MS, 'load-weights (truncated)');
  let after = await alive();
  check('truncated weights are refused', !truncated.ok && /trunc|short|size|bytes|end|offset|length|incomplete/i.test(truncated.error) && after.ok,
    `${truncated.ok ? 'accepted!' : `"${truncated.error}"`}; ${after.text}`);

  // (b) a checkpoint of another model (ResNet), made by the native CLI.
  const resnet = path.join(tmp, 'resnet.safetensors');
  const made = spawnSync(CLI, ['train', '--backend', 'cpu', '--model', 'resnet', '--epochs', '1', '--limit', '64', '--batch', '64',
    '--data', DATA, '--out', resnet], { encoding: 'utf8' });
  if (made.status !== 0) {
    check('another model\'s checkpoint is refused', false, `could not make one: ${made.error ? made.error.message : made.stderr.trim()}`);
  } else {
    const other = await withTimeout(page.evaluate(async (base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
      return window.vkcnnDemo.request('load-weights', { bytes, name: 'resnet.safetensors' })
        .then(() => ({ ok: true }), (error) => ({ ok: false, error: String(error) }));
    }, fs.readFileSync(resnet).toString('base64')), STEP_TIMEOUT_MS, 'load-weights (resnet)');
    after = await alive();
    check('another model\'s checkpoint is refused', !other.ok && /match|shape|expect|missing|unknown|model|lenet|resnet/i.test(other.error) && after.ok,
      `${other.ok ? 'accepted!' : `"${other.error}"`}; ${after.text}`);
  }
}

// 6 (c): no MNIST on the server; "Train from scratch" must report it and leave the worker alive.
async function checkMissingData(browser, mnist, tmp) {
  const empty = fs.mkdtempSync(path.join(tmp, 'no-data-'));
  const server = await serve(SITE, empty);
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  try {
    const page = await openPage(context, server.url);
    const i = 0;
    await drawDigit(page, mnist, i, 1, random(3));
    // The page also looks for the drawing's nearest training digits, which fails too without MNIST;
    // wait for the message of the click itself: the one naming training.
    const before = await page.evaluate(() => window.vkcnnDemo.messages.length);
    await page.click('#train-start');
    let shown = [];
    try {
      await page.waitForFunction((n) => window.vkcnnDemo.messages.slice(n).some((m) => /training/i.test(m)), before, { timeout: STEP_TIMEOUT_MS });
    } catch { /* reported below */ }
    shown = await page.evaluate((n) => window.vkcnnDemo.messages.slice(n), before);
    const clicked = shown.find((m) => /training/i.test(m));
    // The same through request(), for the rejected promise's text.
    const r = await pageRequest(page, 'train-start', { lr: 0.05, batch: 64, seed: 1, epochs: 1 });
    const p = await predictNow(page);
    const namesFile = (text) => /-(images|labels)-idx[13]-ubyte/.test(text || ''); // one of the MNIST files
    check('missing MNIST is reported', namesFile(clicked) && !r.ok && namesFile(r.error) && p.ok && p.top === mnist.label(i),
      `clicking #train-start showed ${clicked ? `"${clicked}"` : `no message about training (${shown.length} others: ${shown.join(' | ')})`}; `
      + `request('train-start') rejected: ${r.ok ? 'no!' : `"${r.error}"`}; `
      + `${p.ok ? `predict after it: ${p.top}` : `predict after it failed: ${p.error}`}`);
  } finally {
    await context.close();
    server.stop();
  }
}

// --- main ---------------------------------------------------------------------------------------

async function main() {
  for (const [what, file] of [['site', path.join(SITE, 'index.html')], ['reference tool', REFERENCE], ['chromium', CHROMIUM],
    ['MNIST', path.join(DATA, 'mnist/t10k-images-idx3-ubyte')]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} not found: ${file}`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vkcnn-web-test-'));
  const mnist = loadMnist(DATA, 't10k');
  const server = await serve(SITE, DATA);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
  const t0 = Date.now();
  try {
    console.log(`vkcnn browser tests: ${await browser.version()} at ${server.url}`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });

    // 4 (threaded) first: the page every later check on it uses.
    const page = await checkBuild(context, server.url, 'threads', mnist);
    await clearPad(page);
    await checkDrawings(page, mnist, tmp);

    // 5: a drawing left on the page for the screenshot (and for 6, whose predicts must read it).
    await drawDigit(page, mnist, 0, 1, random(5));
    await insideShown(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'page.png'), fullPage: true });
    note(`screenshot ${path.join(ARTIFACTS, 'page.png')} (1280 wide, full page)`);
    await checkBadInput(page, 0, mnist, tmp);
    await checkTraining(page);
    if (page.vkcnnLog.length) note(`page log: ${page.vkcnnLog.join(' | ')}`);
    await context.close();

    const single = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    await checkBuild(single, `${server.url}?threads=0`, 'single', mnist);
    await single.close();

    await checkPhone(browser, server.url, mnist);
    await checkMissingData(browser, mnist, tmp);
  } finally {
    await browser.close();
    server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const failed = results.filter((r) => !r.pass);
  console.log(`${results.length - failed.length}/${results.length} checks passed in ${((Date.now() - t0) / 1000).toFixed(0)} s`
    + (failed.length ? `; failed: ${failed.map((r) => r.name).join(', ')}` : ''));
  return failed.length ? 1 : 0;
}

const watchdog = setTimeout(() => {
  console.log(`FAIL the tests took more than ${TOTAL_TIMEOUT_MS / 1000} s; stopping`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
main().then((code) => { clearTimeout(watchdog); process.exit(code); }, (e) => {
  console.log(`FAIL ${e.message}`);
  process.exit(1);
});
