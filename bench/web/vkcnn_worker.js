// The vkcnn side of the benchmark: one WebAssembly build (single-threaded or
// pthreads) in this worker, measured the way the demo uses it.
//
// Message in: {variant: 'single' | 'threads', batch, budgets: {latencyMs, batchMs, trainMs}}.
// Replies: {log: text} while it runs, then {ok: true, results: [row]} or {ok: false, error}.
// A row: {measure: 'latency' | 'batch' | 'train', impl, threads, value, unit, runs, note}.
'use strict';
importScripts('measure.js');

answerWith(run);

async function run({ variant, batch, budgets }) {
  const script = variant === 'threads' ? 'vkcnn_web_threads.js' : 'vkcnn_web.js';
  if (variant === 'threads' && !self.crossOriginIsolated) throw new Error('the page is not cross-origin isolated: no pthreads');
  importScripts(script);
  // Inside a worker Emscripten cannot find its own URL, which the pthreads load again: name it.
  const module = await createVkcnn({ mainScriptUrlOrBlob: new URL(script, self.location.href).href });
  // The same thread count the demo's worker picks.
  const threads = variant === 'threads' ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8)) : 1;
  const session = new module.Session(threads);
  const impl = `vkcnn ${variant}`;
  session.loadWeights(await fetchBytes('lenet5.safetensors'), 'lenet5.safetensors');
  const images = idxImages(await fetchBytes(TEST_IMAGES_URL), batch);
  const image = (i) => images.subarray((i % batch) * PIXELS, (i % batch + 1) * PIXELS);
  const results = [];
  // `how`: the call measured, which tells apart the rows of one measure.
  const row = (measure, how, value, unit, runs, note) =>
    results.push({ measure, impl, how, threads: session.threads(), value, unit, runs, note });

  // 1. One image to probabilities, as the demo does it: predict() crops and
  // centres the drawing (MNIST's preprocessing), runs the network and copies
  // the probabilities out to JS.
  log(`${impl}: latency`);
  let times = timeRuns((i) => session.predict(image(i), 28, 28).probabilities, { warmup: 20, budgetMs: budgets.latencyMs });
  row('latency', 'predict()', median(times), 'ms', times.length, 'preprocessing + network + softmax');
  // The network alone, when the build has the batch call (classify: 28x28 pixels in [0, 1] -> logits).
  const hasClassify = typeof session.classify === 'function';
  if (hasClassify) {
    times = timeRuns((i) => session.classify(image(i), 1), { warmup: 20, budgetMs: budgets.latencyMs });
    row('latency', 'classify()', median(times), 'ms', times.length, '1 image: network only, logits');
  }

  // 2. Throughput on `batch` images. With classify() that is one call; the
  // one-image predict() in a loop is measured too, as what exists without it.
  log(`${impl}: batch ${batch}`);
  if (hasClassify) {
    times = timeRuns(() => session.classify(images, batch), { warmup: 1, minRuns: 3, budgetMs: budgets.batchMs });
    row('batch', 'classify()', batch / (median(times) / 1000), 'img/s', times.length, `${batch} images in one call -> logits`);
  }
  times = timeRuns(() => { for (let i = 0; i < batch; i++) session.predict(image(i), 28, 28); },
    { warmup: 1, minRuns: 3, budgetMs: budgets.batchMs });
  row('batch', 'predict() loop', batch / (median(times) / 1000), 'img/s', times.length, `${batch} one-image calls, with preprocessing`);

  // 3. Training as the demo does it: MNIST's training set in the session,
  // SGD with momentum 0.9 at batch 64, in time slices; trainFor reports the
  // images per second of its slice. Epochs: more than the time box can get
  // through, so the run never ends inside it (the learning rate's schedule
  // over those epochs does not change the speed).
  log(`${impl}: training`);
  const [trainImages, trainLabels] = await Promise.all(
    ['data/mnist/train-images-idx3-ubyte', 'data/mnist/train-labels-idx1-ubyte'].map(fetchBytes));
  session.setMnist('train', trainImages, trainLabels, 'MNIST train');
  session.startTraining({ lr: 0.05, batch: 64, seed: 1, epochs: 20 });
  session.trainFor(300); // warm-up
  const rates = [];
  const sliceMs = Math.max(250, budgets.trainMs / 5);
  for (const start = performance.now(); rates.length < 3 || performance.now() - start < budgets.trainMs;) {
    rates.push(session.trainFor(sliceMs).imagesPerSecond);
  }
  row('train', 'trainFor()', median(rates), 'img/s', rates.length, `${sliceMs} ms slices, batch 64, MNIST training set`);
  session.delete();
  return results;
}
