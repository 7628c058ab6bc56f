// The browser demo's WebAssembly modules under node, against the same
// session built natively (build/web/vkcnn_web_reference):
//   node tests/wasm/module_test.mjs SITE_DIR DATA_DIR REFERENCE
// SITE_DIR holds vkcnn_web{,_threads}.{js,wasm} and lenet5.safetensors
// (scripts/web.sh). Checks, for the single-thread module and the pthreads
// one: loading the shipped weights; bad checkpoints refused with their
// problem named and the old weights kept; test digits classified; MNIST's
// preprocessing byte for byte equal to native; training losses equal to
// native (bitwise on one thread, where the summation order is the same);
// the inside views' shapes and ranges; errors as JS exceptions after which
// the session still works.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [site, dataDir, reference] = process.argv.slice(2).map((p) => resolve(p));
if (!reference) {
  console.error('usage: node module_test.mjs SITE_DIR DATA_DIR REFERENCE');
  process.exit(2);
}
const require = createRequire(import.meta.url);
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}
function throws(f, pattern, what) {
  try {
    f();
    check(false, `${what}: no error`);
  } catch (e) {
    check(pattern.test(e.message), `${what}: "${e.message}"`);
  }
}

const mnist = join(dataDir, 'mnist');
const idx = (name) => new Uint8Array(readFileSync(join(mnist, name)));
const testImages = idx('t10k-images-idx3-ubyte'), testLabels = idx('t10k-labels-idx1-ubyte');
const trainImages = idx('train-images-idx3-ubyte'), trainLabels = idx('train-labels-idx1-ubyte');
const weights = new Uint8Array(readFileSync(join(site, 'lenet5.safetensors')));
const testDigit = (i) => Float32Array.from(testImages.subarray(16 + 784 * i, 16 + 784 * (i + 1)), (v) => v / 255);

// A safetensors file of another model: the small ResNet's first convolution.
function otherModelCheckpoint() {
  const header = JSON.stringify({ '0.weight': { dtype: 'F32', shape: [16, 1, 3, 3], data_offsets: [0, 576] } });
  const bytes = new Uint8Array(8 + header.length + 576);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(new TextEncoder().encode(header), 8);
  return bytes;
}

// A drawing as the page makes it: thick strokes of ink on a 280x280 pad, ink high, k/255.
function drawing(seed) {
  const w = 280, h = 280, gray = new Float32Array(w * h);
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const cx = 60 + rand() * 160, cy = 60 + rand() * 160, r = 20 + rand() * 40;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const d = Math.abs(Math.hypot(x - cx, (y - cy) * 1.6) - r); // an ellipse's ring
      gray[y * w + x] = Math.round(255 * Math.max(0, Math.min(1, 1 - (d - 6) / 2))) / 255;
    }
  return { gray, w, h };
}

const work = mkdtempSync(join(tmpdir(), 'vkcnn-module-'));
const nativeLosses = (args) =>
  execFileSync(reference, ['losses', dataDir, ...args], { encoding: 'utf8' }).trim().split('\n').map(Number);

async function load(name, threads) {
  const createVkcnn = require(join(site, `${name}.js`));
  const module = await createVkcnn({ wasmBinary: readFileSync(join(site, `${name}.wasm`)) });
  return new module.Session(threads);
}

async function testModule(name, threads) {
  console.log(`# ${name}, ${threads} thread(s)`);
  const s = await load(name, threads);
  check(s.threads() === threads, `threads() = ${s.threads()}`);
  check(s.layers().length === 12 && s.layers()[0].shape.join('x') === '6x28x28', 'LeNet-5 layers');

  throws(() => s.inspect(3), /nothing has been drawn/, 'inspect before a drawing');
  const metadata = s.loadWeights(weights, 'lenet5.safetensors');
  check(metadata.model === 'lenet5', `shipped weights: model ${metadata.model}, epoch ${metadata.epoch}`);

  // Test digits, as they are (28x28 is preprocessed too: crop, fit, centre).
  let right = 0;
  const n = 300;
  for (let i = 0; i < n; i++) right += s.predict(testDigit(i), 28, 28).top === testLabels[8 + i] ? 1 : 0;
  check(right / n >= 0.97, `${right}/${n} test digits right`);
  // Test digits in a batch, as they are.
  const batch = 1000, logits = s.classify(Float32Array.from(testImages.subarray(16, 16 + 784 * batch), (v) => v / 255), batch);
  let batchRight = 0;
  for (let i = 0; i < batch; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
    batchRight += best === testLabels[8 + i] ? 1 : 0;
  }
  check(batchRight / batch >= 0.97, `classify: ${batchRight}/${batch} test digits right at batch ${batch}`);
  throws(() => s.classify(new Float32Array(100), 1), /784/, 'classify with too few values');
  const seven = testDigit(0); // test image 0 is a 7
  const before = s.predict(seven, 28, 28).probabilities;

  throws(() => s.loadWeights(weights.subarray(0, 1000), 'truncated.safetensors'), /truncated\.safetensors.*header/,
         'truncated checkpoint');
  throws(() => s.loadWeights(otherModelCheckpoint(), 'resnet.safetensors'), /resnet\.safetensors.*0\.weight/,
         'checkpoint of another model');
  const after = s.predict(seven, 28, 28).probabilities;
  check(after.every((p, k) => p === before[k]), 'the shipped weights stay after a refused file');

  // Preprocessing: byte for byte what the native code makes of the same ink.
  let same = 0;
  for (let k = 0; k < 4; k++) {
    const { gray, w, h } = drawing(k + 1);
    const bytes = Uint8Array.from(gray, (v) => Math.round(v * 255));
    writeFileSync(join(work, 'in.raw'), bytes);
    execFileSync(reference, ['preprocess', String(w), String(h), join(work, 'in.raw'), join(work, 'out.raw')]);
    const native = new Float32Array(new Uint8Array(readFileSync(join(work, 'out.raw'))).buffer);
    const image = s.predict(gray, w, h).image;
    const diff = [...image].map((v, i) => [i, v, native[i]]).filter(([, a, b]) => a !== b);
    if (diff.length) console.log(`  drawing ${k + 1}: ${diff.length} pixels differ, e.g. ${JSON.stringify(diff.slice(0, 4))}`);
    same += native.length === 784 && diff.length === 0 ? 1 : 0;
  }
  check(same === 4, `preprocessing equals native bit for bit (${same}/4 drawings, 784 floats each)`);
  throws(() => s.predict(new Float32Array(10), 28, 28), /28/, 'a drawing of the wrong size');

  // Inside views of the 7.
  s.predict(seven, 28, 28);
  const r = s.inspect(7);
  const max = (a) => a.reduce((m, v) => Math.max(m, v), -Infinity), min = (a) => a.reduce((m, v) => Math.min(m, v), Infinity);
  check(r.activations.length === 12 && r.activations[11].data.length === 10, 'inspect: 12 layers, 10 logits');
  check(max(r.saliency) === 1 && min(r.saliency) >= 0, 'saliency scaled to [0, 1]');
  check(max(r.gradcam) <= 1 && min(r.gradcam) >= 0 && r.gradcam.length === 784, 'Grad-CAM in [0, 1], 28x28');
  throws(() => s.inspect(10), /class 10/, 'inspect of class 10');
  const f = s.filters();
  check(f.shape.join('x') === '6x1x5x5' && f.data.length === 150, 'filters 6x1x5x5');
  const nudged = s.nudge(3);
  check(nudged.reached && nudged.top === 3 && nudged.steps > 0, `nudge 7 -> 3 in ${nudged.steps} steps`);
  check(min(nudged.image) >= 0 && max(nudged.image) <= 1, 'the nudged image stays in [0, 1]');

  // Training and the nearest digits need MNIST.
  throws(() => s.nearest(4), /train.*not loaded/, 'nearest without the training set');
  throws(() => s.setMnist('train', trainImages.subarray(0, 100), trainLabels, 'short'), /short/, 'truncated IDX file');
  s.setMnist('train', trainImages, trainLabels, 'MNIST train');
  const nb = s.nearest(5);
  check(nb.length === 5 && nb.filter((x) => x.label === 7).length >= 4, `nearest to a 7: ${nb.map((x) => x.label)}`);
  throws(() => s.use('trained'), /no model is being trained/, 'using the trained slot before training');

  s.startTraining({ lr: 0.05, batch: 64, seed: 1, epochs: 1 });
  const losses = Array.from(s.trainSteps(20));
  const native = nativeLosses(['20', '1', '0.05', '64', 'generic']);
  // %.9g round-trips a float: fround gives back its exact bits.
  const bitwise = losses.every((l, i) => l === Math.fround(native[i]));
  const worst = Math.max(...losses.map((l, i) => Math.abs(l - Math.fround(native[i])) / Math.abs(native[i])));
  // On two threads too: the kernels split their outputs between threads, never a sum.
  check(bitwise, `20 training losses on ${threads} thread(s) bitwise equal to native on one (largest relative difference ${worst})`);
  const p = s.trainFor(300);
  check(p.step > 20 && p.loss > 0 && p.imagesPerSecond > 0, `trainFor: step ${p.step}, ${Math.round(p.imagesPerSecond)} images/s`);
  s.use('trained');
  check(s.predict(seven, 28, 28).model === 'trained', 'predicting with the model being trained');
  s.addExample(7);
  const tuned = s.fineTune(3, 0.01);
  check(tuned.length === 3 && tuned.every(Number.isFinite), 'fine-tune on an own digit');
  throws(() => s.addExample(11), /label 11/, 'an example labelled 11');
  s.use('shipped');
  check(s.predict(seven, 28, 28).top === 7, 'the session still answers after every error');
}

await testModule('vkcnn_web', 1);
await testModule('vkcnn_web_threads', 2);
console.log(failures ? `module test: ${failures} failed` : 'module test: ok');
process.exit(failures ? 1 : 0);
