// vkcnn's WebAssembly builds against TensorFlow.js 4.22 on the same LeNet-5, in one headless
// Chromium, plus the native CPU backend's training speed for reference.
//
//   npm install --prefix bench/web      (once: tfjs, its wasm backend, playwright-core)
//   node bench/web/run.mjs [--site build-wasm/web/site] [--data data] [--cli build/tools/vkcnn]
//        [--chromium /usr/bin/chromium] [--native-images 19200]
//
// It builds nothing: the site comes from scripts/web.sh, the CLI from the native build. It serves
// the site's module files, this folder's page and workers and tfjs's dist/ folders from one temp
// folder of links (web/serve.mjs, with the cross-origin isolation headers the pthreads need), runs
// bench/web/index.html, which runs each implementation in a worker of its own, then times the
// native CLI, and prints markdown: the environment, every figure, and the vkcnn / tfjs ratios.
// Each measurement is time-boxed (BUDGETS), so the run takes about the same time on any machine:
// about a minute and a half on 2 cores.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
// This folder's own pinned playwright-core (bench/web/package.json); it drives the system Chromium.
const { chromium } = createRequire(path.join(here, 'package.json'))('playwright-core');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const fromRepo = (p) => path.resolve(repo, p);
const SITE = fromRepo(option('site', 'build-wasm/web/site'));
const DATA = fromRepo(option('data', 'data'));
const CLI = fromRepo(option('cli', 'build/tools/vkcnn'));
const CHROMIUM = option('chromium', '/usr/bin/chromium');
// The native run trains on this many MNIST images (--limit): 300 steps of 64 is long past any
// warm-up and keeps the two runs to seconds; the CLI's figure is the run's average.
const NATIVE_IMAGES = Number(option('native-images', '19200'));

// Per worker: how long each measurement keeps sampling after its warm-up (a slow one still gets
// its minimum of runs), and when a worker that has not answered counts as failed.
const BUDGETS = { latencyMs: 2000, batchMs: 3000, trainMs: 4000, jobTimeoutMs: 90_000 };
const PAGE_TIMEOUT_MS = 240_000;

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];

const progress = (text) => process.stderr.write(text + '\n'); // stdout is the report only

// --- the served folder ------------------------------------------------------------------------

const TFJS = path.join(here, 'node_modules/@tensorflow/tfjs/dist');
const TFJS_WASM = path.join(here, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
const SITE_FILES = ['vkcnn_web.js', 'vkcnn_web.wasm', 'vkcnn_web_threads.js', 'vkcnn_web_threads.wasm',
  'vkcnn_web_threads.worker.js', 'lenet5.safetensors'];
const BENCH_FILES = ['index.html', 'measure.js', 'vkcnn_worker.js', 'tfjs_worker.js'];

// A temp folder of symlinks, so one server root holds the site's module, the page and tfjs
// (web/serve.mjs follows links; nothing is copied and nothing under the repo is written).
function servedFolder() {
  const missing = [...SITE_FILES.map((f) => path.join(SITE, f)), path.join(TFJS, 'tf.min.js'),
    path.join(TFJS_WASM, 'tf-backend-wasm.min.js'), path.join(DATA, 'mnist/train-images-idx3-ubyte')]
    .filter((f) => !fs.existsSync(f));
  if (missing.length) {
    throw new Error(`missing: ${missing.join(', ')}\n(site: scripts/web.sh; tfjs: npm install --prefix bench/web; ` +
      'MNIST: data/mnist)');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkcnn-web-bench-'));
  for (const f of SITE_FILES) fs.symlinkSync(path.join(SITE, f), path.join(dir, f));
  for (const f of BENCH_FILES) fs.symlinkSync(path.join(here, f), path.join(dir, f));
  fs.symlinkSync(TFJS, path.join(dir, 'tfjs'));
  fs.symlinkSync(TFJS_WASM, path.join(dir, 'tfjs-wasm'));
  return dir;
}

// Starts web/serve.mjs on a free port; resolves with {url, child} once it says it is listening.
function serve(root) {
  const child = spawn(process.execPath, [path.join(repo, 'web/serve.mjs'), '--root', root, '--data', DATA, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`web/serve.mjs did not start:\n${output}`)), 15_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = /serving (http:\/\/localhost:\d+\/)/.exec(output);
      if (m) { clearTimeout(timer); resolve({ url: m[1], child }); }
    });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`web/serve.mjs exited (${code}):\n${output}`)); });
  });
}

// --- the browser ------------------------------------------------------------------------------

async function browserRun(url) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => progress(`  [page] ${m.text()}`));
    page.on('pageerror', (e) => progress(`  [page error] ${e.message}`));
    await page.goto(url + 'index.html');
    page.setDefaultTimeout(PAGE_TIMEOUT_MS);
    const result = await page.evaluate((budgets) => window.runBench(budgets), BUDGETS);
    return { ...result, chromium: browser.version() };
  } finally {
    await browser.close();
  }
}

// --- native ------------------------------------------------------------------------------------

// The native CPU backend's training speed: the CLI's progress line ends with the run's img/s.
function nativeTrain(threads) {
  const out = path.join(os.tmpdir(), `vkcnn-web-bench-native-${process.pid}.safetensors`);
  const args = ['train', '--backend', 'cpu', '--threads', String(threads), '--epochs', '1', '--model', 'lenet5',
    '--data', DATA, '--limit', String(NATIVE_IMAGES), '--out', out];
  progress(`native: ${path.relative(repo, CLI)} ${args.join(' ')}`);
  const r = spawnSync(CLI, args, { encoding: 'utf8', timeout: 120_000 });
  fs.rmSync(out, { force: true });
  const text = `${r.stdout || ''}${r.stderr || ''}`;
  const rates = [...text.matchAll(/([\d.]+) img\/s/g)].map((m) => Number(m[1]));
  if (r.status !== 0 || !rates.length) {
    return { impl: 'native vkcnn cpu', threads, measure: 'train', value: null, unit: 'img/s',
      error: `${r.error ? r.error.message : `exit ${r.status}`}: ${text.trim().split('\n').slice(-3).join(' / ')}` };
  }
  return { impl: 'native vkcnn cpu', how: 'vkcnn train', threads, measure: 'train', value: rates[rates.length - 1],
    unit: 'img/s', runs: 1, note: `--limit ${NATIVE_IMAGES}: the run's average` };
}

// --- the report --------------------------------------------------------------------------------

const MEASURES = {
  latency: 'single-image latency (ms, lower is better)',
  batch: 'batch-1000 inference (img/s)',
  train: 'training, batch 64 (img/s)',
  setup: 'setup',
};

function cpuModel() {
  const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? m[1].trim() : os.cpus()[0]?.model || 'unknown';
}

const figure = (r) => (r.value == null ? 'failed'
  : r.unit === 'ms' ? `${r.value.toPrecision(3)} ms` : `${Math.round(r.value)} img/s`);
const cell = (text) => String(text ?? '').replace(/\|/g, '\\|').replace(/\s+/g, ' ');
const isVkcnn = (r) => r.impl.startsWith('vkcnn');
const isTfjs = (r) => r.impl.startsWith('tfjs');

// vkcnn's speed over tfjs's (> 1: vkcnn is faster): a throughput ratio, or for latency tfjs's time
// over vkcnn's. Each vkcnn figure is set against the tfjs figures of the same measure at the same
// thread count, and training also against tfjs's best training backend, whatever its threads.
function ratios(rows) {
  const lines = [];
  for (const measure of ['latency', 'batch', 'train']) {
    const tf = rows.filter((r) => r.measure === measure && isTfjs(r) && r.value != null);
    const best = measure === 'train' && tf.length ? tf.reduce((a, b) => (b.value > a.value ? b : a)) : null;
    for (const v of rows.filter((r) => r.measure === measure && isVkcnn(r) && r.value != null)) {
      const against = tf.filter((t) => t.threads === v.threads);
      if (best && !against.includes(best)) against.push(best);
      for (const t of against) {
        const speed = measure === 'latency' ? t.value / v.value : v.value / t.value;
        lines.push(`| ${MEASURES[measure]} | ${v.impl} ${v.how} (${v.threads}t) ` +
          `| ${t.impl} (${t.threads}t)${t === best ? ', best' : ''} | ${speed.toFixed(2)}x |`);
      }
    }
  }
  return lines;
}

function report(env, rows, seconds) {
  const lines = [
    `## vkcnn WebAssembly vs TensorFlow.js ${env.tfjsVersion}: LeNet-5`,
    '',
    `- date: ${env.date}`,
    `- Chromium: ${env.chromium} (headless, ${CHROMIUM}); cross-origin isolated: ${env.crossOriginIsolated}`,
    `- CPU: ${env.cpu}, ${env.cores} logical cores (navigator.hardwareConcurrency ${env.hardwareConcurrency}); ` +
      `load average at start ${env.load.map((l) => l.toFixed(2)).join(' ')}` +
      // Anything else running shares the cores with every timing (threaded ones suffer most).
      (env.load[0] >= 0.5 * env.cores ? ' — the machine was busy: the figures are rough' : ''),
    `- threads: vkcnn threads build and tfjs-wasm threaded: ${env.hardwareConcurrency} capped at 8; ` +
      `native: 1 and 2`,
    `- each figure: median of the timed runs after a warm-up (time-boxed: ${BUDGETS.latencyMs / 1000} s latency, ` +
      `${BUDGETS.batchMs / 1000} s batch, ${BUDGETS.trainMs / 1000} s training); whole run ${seconds.toFixed(0)} s`,
    '',
    '| measurement | implementation | threads | result | runs | notes |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${MEASURES[r.measure] || r.measure} | ${cell([r.impl, r.how].filter(Boolean).join(' '))} | ${r.threads ?? ''} | ${figure(r)} ` +
      `| ${r.runs ?? ''} | ${cell(r.error ? `ERROR: ${r.error}` : r.note)} |`),
    '',
    'vkcnn / tfjs, as speed (> 1: vkcnn faster; for latency: tfjs ms / vkcnn ms):',
    '',
    '| measurement | vkcnn | tfjs | ratio |',
    '|---|---|---|---|',
    ...ratios(rows),
  ];
  // WebAssembly against native, training at the same thread count.
  const native = rows.filter((r) => r.impl.startsWith('native') && r.value != null);
  const wasmTrain = rows.filter((r) => r.measure === 'train' && isVkcnn(r) && r.value != null);
  const pairs = wasmTrain.flatMap((w) => native.filter((n) => n.threads === w.threads).map((n) => [w, n]));
  if (pairs.length) {
    lines.push('', 'vkcnn WebAssembly / native CPU backend, training:', '', '| wasm | native | ratio |', '|---|---|---|',
      ...pairs.map(([w, n]) => `| ${w.impl} (${w.threads}t): ${figure(w)} | ${n.threads}t ${figure(n)} | ` +
        `${(w.value / n.value).toFixed(2)} |`));
  }
  return lines.join('\n');
}

// --- main --------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const env = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpuModel(),
    cores: os.cpus().length,
    load: os.loadavg(),
    tfjsVersion: JSON.parse(fs.readFileSync(path.join(TFJS, '../package.json'), 'utf8')).version,
  };
  const root = servedFolder();
  let server;
  let rows = [];
  try {
    server = await serve(root);
    progress(`served at ${server.url} from ${root}`);
    const result = await browserRun(server.url);
    Object.assign(env, { chromium: result.chromium, crossOriginIsolated: result.crossOriginIsolated,
      hardwareConcurrency: result.hardwareConcurrency });
    rows = result.rows;
  } finally {
    server?.child.kill();
    // Unlink the links one by one: nothing that removes recursively gets near what they point at.
    for (const f of fs.readdirSync(root)) fs.unlinkSync(path.join(root, f));
    fs.rmdirSync(root);
  }
  // After the browser, so the native runs have the cores to themselves.
  rows.push(nativeTrain(1), nativeTrain(2));
  console.log(report(env, rows, (Date.now() - started) / 1000));
  // A failure that was not expected (tfjs-wasm training is: no gradient kernels) fails the run.
  const unexpected = rows.filter((r) => r.error && !(r.measure === 'train' && r.impl.startsWith('tfjs-wasm')));
  if (unexpected.length) {
    progress(`failed: ${unexpected.map((r) => `${r.impl} ${r.measure}`).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  progress(e.stack || String(e));
  process.exit(1);
});
