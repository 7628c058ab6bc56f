// Helpers both benchmark workers share (importScripts('measure.js')): timing
// with a time box, MNIST's IDX files as the networks' input, and their replies (answerWith).
'use strict';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Times `fn` (synchronous: every call here ends in a read-back) and returns
// each timed call's duration in ms. The first `warmup` calls are not timed:
// they compile the kernels, grow the heaps and fill the caches. Then it runs
// at least `minRuns` times, and more while both `budgetMs` of timed calls has
// not passed and `maxRuns` is not reached, so a slow implementation costs
// the same wall time as a fast one (fewer samples, same median).
function timeRuns(fn, { warmup = 1, minRuns = 3, maxRuns = 10000, budgetMs = 2000 } = {}) {
  for (let i = 0; i < warmup; i++) fn(i);
  const times = [];
  const start = performance.now();
  while (times.length < maxRuns && (times.length < minRuns || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    fn(warmup + times.length);
    times.push(performance.now() - t0);
  }
  return times;
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The first `n` images of an IDX image file (magic 0x803, big-endian count,
// rows, cols, then bytes) as Float32Array(n * rows * cols) in [0, 1], ink high:
// what vkcnn's predict takes as a drawing and what the tfjs model is fed.
function idxImages(bytes, n) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x803) throw new Error('not an IDX image file');
  const count = view.getUint32(4), rows = view.getUint32(8), cols = view.getUint32(12);
  if (n > count) throw new Error(`asked for ${n} images, the file has ${count}`);
  const pixels = new Float32Array(n * rows * cols);
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[16 + i] / 255;
  return pixels;
}

// The test images every measurement cycles through (the same ones on both sides).
const TEST_IMAGES_URL = 'data/mnist/t10k-images-idx3-ubyte';
const PIXELS = 28 * 28;

// Both workers' messages: {log: text} while they run, then {ok: true, results}
// or {ok: false, error}, for one config message handed to run(config).
const log = (text) => postMessage({ log: text });
function answerWith(run) {
  self.onmessage = async ({ data: config }) => {
    try {
      postMessage({ ok: true, results: await run(config) });
    } catch (e) {
      postMessage({ ok: false, error: String((e && e.stack) || e) });
    }
  };
}
