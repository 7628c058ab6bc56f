// The TensorFlow.js side of the benchmark: the same LeNet-5 as vkcnn's
// (random weights: only the time matters) on one tfjs backend in this worker.
//
// Message in: {backend: 'wasm' | 'cpu', threads (wasm: 1 = the SIMD build without
// pthreads, n > 1 = the threaded SIMD build asked for n threads), liftCap (see
// loadTf), batch, budgets}.
// Replies as vkcnn_worker.js's: {log}, then {ok: true, results: [row]} or {ok: false, error}.
'use strict';
importScripts('measure.js');

answerWith(run);

// The UMD bundles set self.tf; run.mjs serves tfjs's dist/ folders at these paths.
async function loadTf(backend, threads, liftCap) {
  // tfjs-backend-wasm caps its thread pool at navigator.hardwareConcurrency / 2
  // (its backend.cc assumes two hardware threads per core), whatever
  // setThreadsCount asks: on a 2-core machine it runs one thread. To measure
  // it with as many threads as vkcnn's threaded build uses, liftCap makes
  // this worker report twice the threads it wants; the module reads the
  // count when it starts, so this must come before it loads.
  if (liftCap) Object.defineProperty(self.navigator, 'hardwareConcurrency', { value: 2 * threads });
  importScripts('tfjs/tf.min.js');
  let describe = 'plain JS'; // what the notes column says about the backend
  if (backend === 'wasm') {
    importScripts('tfjs-wasm/tf-backend-wasm.min.js');
    tf.wasm.setWasmPaths(new URL('tfjs-wasm/', self.location.href).href);
    // tfjs picks the threaded binary by itself whenever SharedArrayBuffer is
    // there (it is: the page is cross-origin isolated). For the one-thread
    // figure, turn that off so it loads the plain SIMD binary, as vkcnn's
    // single build is.
    if (threads === 1) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    else tf.wasm.setThreadsCount(threads); // must come before setBackend
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' did not initialise`);
  await tf.ready();
  let impl = `tfjs-${backend}`, actualThreads = 1;
  if (backend === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    actualThreads = tf.wasm.getThreadsCount();
    describe = `${simd ? 'SIMD' : 'no SIMD'}, ${mt ? `threaded binary, asked for ${threads}` : 'no pthreads'}` +
      (liftCap ? ', hardwareConcurrency doubled to lift its cap' : '');
    impl = `tfjs-wasm ${mt ? 'threaded' : 'simd'}`;
  }
  return { impl, threads: actualThreads, describe };
}

// LeNet-5 as vkcnn builds it, NHWC: 'same' padding on a 5x5 kernel is pad 2.
function lenet5() {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'relu' }),
      tf.layers.dense({ units: 84, activation: 'relu' }),
      tf.layers.dense({ units: 10 }), // logits; the softmax is in the loss (training) or explicit (latency)
    ],
  });
}

async function run({ backend, threads, liftCap = false, batch, budgets }) {
  const { impl, threads: actualThreads, describe } = await loadTf(backend, threads, liftCap);
  const model = lenet5();
  log(`${impl} (${describe}, ${actualThreads} thread(s)): ${model.countParams()} parameters`);
  const images = idxImages(await fetchBytes(TEST_IMAGES_URL), batch);
  const labels = new Int32Array((await fetchBytes('data/mnist/t10k-labels-idx1-ubyte')).subarray(8, 8 + batch));
  const image = (i) => images.subarray((i % batch) * PIXELS, (i % batch + 1) * PIXELS);
  const results = [];
  const row = (measure, how, value, unit, runs, note, error = undefined) =>
    results.push({ measure, impl, how, threads: actualThreads, value, unit, runs, note: `${describe}; ${note}`, error });

  // Runs f (which returns one tensor) and reads the tensor back to JS: the
  // read-back is what makes tfjs finish the work, and what a caller needs.
  const readBack = (f) => {
    const t = tf.tidy(f);
    const values = t.dataSync();
    t.dispose();
    return values;
  };

  // 1. One image to probabilities.
  log(`${impl}: latency`);
  let times = timeRuns((i) => readBack(() => tf.softmax(model.predict(tf.tensor4d(image(i), [1, 28, 28, 1])))),
    { warmup: 20, budgetMs: budgets.latencyMs });
  row('latency', 'predict()', median(times), 'ms', times.length, 'network + softmax + dataSync');

  // 2. `batch` images in one call (batchSize: predict would otherwise cut it into 32s).
  log(`${impl}: batch ${batch}`);
  times = timeRuns(() => readBack(() => model.predict(tf.tensor4d(images, [batch, 28, 28, 1]), { batchSize: batch })),
    { warmup: 1, minRuns: 3, budgetMs: budgets.batchMs });
  row('batch', 'predict()', batch / (median(times) / 1000), 'img/s', times.length, `${batch} images in one call -> logits, dataSync`);

  // 3. Training steps: batch 64, SGD with momentum 0.9, softmax cross-entropy,
  // the batch built from JS arrays each step (as a data loader would) and the
  // loss read back each step (as vkcnn's trainer reports it).
  log(`${impl}: training`);
  const optimizer = tf.train.momentum(0.05, 0.9);
  const TRAIN_BATCH = 64;
  const step = (i) => readBack(() => {
    const first = (i * TRAIN_BATCH) % (batch - TRAIN_BATCH);
    const x = tf.tensor4d(images.subarray(first * PIXELS, (first + TRAIN_BATCH) * PIXELS), [TRAIN_BATCH, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d(labels.subarray(first, first + TRAIN_BATCH), 'int32'), 10);
    return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true);
  });
  try {
    times = timeRuns(step, { warmup: 2, minRuns: 3, budgetMs: budgets.trainMs });
    row('train', 'minimize()', TRAIN_BATCH / (median(times) / 1000), 'img/s', times.length, 'batch 64, loss read back each step');
  } catch (e) {
    // Expected on the wasm backend: it has no kernels for the convolution's gradients.
    row('train', 'minimize()', null, 'img/s', 0, 'batch 64', String((e && e.message) || e));
  }
  return results;
}
