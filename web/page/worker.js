// The browser demo's worker: it loads the WebAssembly module (threaded when
// the page is cross-origin isolated, else single-threaded), holds the
// session (web/session.h: the shipped LeNet-5 and the one trained here) and
// answers the page's requests, so the page never waits on the network.
//
// Protocol. Requests, page -> worker: {id, type, ...args}. Replies:
// {id, ok: true, value} or {id, ok: false, error}. Events, no id:
// {event: 'train', ...progress}, {event: 'status', text}, {event: 'error', text}.
// Images for the network are `gray`: Float32Array(width * height), ink high,
// in [0, 1]; 28x28 images come back as Float32Array(784) in [0, 1].
//   init {threads}            -> {variant, threads, layers, weights: {source, metadata}}
//   predict {gray, width, height} -> {empty, image, box, centre, probabilities, top, model}
//   inspect {cls}             -> {cls, activations: [{path, shape, data}], saliency, gradcam}
//   filters {}                -> {shape: [out, in, kh, kw], data}
//   nudge {target}            -> {image, probabilities, top, steps, reached}
//   nearest {k}               -> {neighbours: [{index, label, distance, image}]}
//   use {model: 'pretrained'|'trained'} -> {model}
//   load-weights {bytes, name} -> {source, metadata}
//   train-start {lr, batch, seed, epochs} -> {} (then 'train' events, ~5 a second)
//   train-pause / train-resume -> {running};  train-lr {lr} -> {lr}
//   add-example {label}       -> {count};  fine-tune {steps, lr} -> {losses}
//   train-steps {steps, seed, lr, batch} -> {losses} (a fresh model; what the tests compare with native)
'use strict';

const WEIGHTS = 'lenet5.safetensors';
const MNIST = {
  train: ['data/mnist/train-images-idx3-ubyte', 'data/mnist/train-labels-idx1-ubyte'],
  test: ['data/mnist/t10k-images-idx3-ubyte', 'data/mnist/t10k-labels-idx1-ubyte'],
};
const TRAIN_SLICE_MS = 200; // training runs in slices this long; requests are answered between them

let session = null;
let lastTop = 0;
let running = false; // training wanted: false while paused
let pumping = false;

const status = (text) => postMessage({ event: 'status', text });

async function loadModule(threads) {
  const useThreads = threads && self.crossOriginIsolated && typeof SharedArrayBuffer !== 'undefined';
  const name = useThreads ? 'vkcnn_web_threads' : 'vkcnn_web';
  importScripts(`${name}.js`);
  // The pthread workers load the same script: name it, since inside a worker
  // Emscripten cannot find its own URL.
  const module = await createVkcnn({ mainScriptUrlOrBlob: new URL(`${name}.js`, self.location.href).href });
  const n = useThreads ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8)) : 1;
  return { module, variant: useThreads ? 'threads' : 'single', threads: n };
}

async function fetchBytes(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: cannot fetch (${e.message})`);
  }
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  // The .gz files are sent as they are stored; inflate them here.
  const body = url.endsWith('.gz') ? response.body.pipeThrough(new DecompressionStream('gzip')) : response.body;
  try {
    return new Uint8Array(await new Response(body).arrayBuffer());
  } catch (e) {
    throw new Error(`${url}: cannot read (${e.message})`);
  }
}

async function ensureMnist(split) {
  if (session.hasMnist(split)) return;
  status(`Loading MNIST's ${split} set…`);
  const [images, labels] = await Promise.all(MNIST[split].map(fetchBytes));
  session.setMnist(split, images, labels, `MNIST ${split} (${MNIST[split][0]})`);
  status('');
}

// Training in slices, so predictions keep coming while it runs.
function pump() {
  if (!running || !session.training()) {
    pumping = false;
    return;
  }
  pumping = true;
  let progress;
  try {
    progress = session.trainFor(TRAIN_SLICE_MS);
  } catch (e) {
    running = pumping = false;
    postMessage({ event: 'error', text: `training stopped: ${e.message}` });
    return;
  }
  if (progress.done) running = false;
  postMessage({ event: 'train', ...progress, running });
  setTimeout(pump, 0);
}

function startPump() {
  if (!pumping) setTimeout(pump, 0);
}

const handlers = {
  async init({ threads = true }) {
    const { module, variant, threads: n } = await loadModule(threads);
    session = new module.Session(n);
    const bytes = await fetchBytes(WEIGHTS);
    const metadata = session.loadWeights(bytes, WEIGHTS);
    return { variant, threads: session.threads(), layers: session.layers(), weights: { source: WEIGHTS, metadata } };
  },
  predict({ gray, width, height }) {
    const p = session.predict(gray, width, height);
    if (!p.empty) lastTop = p.top;
    p.model = p.model === 'shipped' ? 'pretrained' : p.model;
    return p;
  },
  inspect({ cls = lastTop }) {
    return session.inspect(cls);
  },
  filters() {
    return session.filters();
  },
  nudge({ target }) {
    return session.nudge(target);
  },
  async nearest({ k = 8 }) {
    await ensureMnist('train');
    return { neighbours: session.nearest(k) };
  },
  use({ model }) {
    session.use(model === 'pretrained' ? 'shipped' : model);
    return { model };
  },
  'load-weights'({ bytes, name = 'checkpoint' }) {
    const metadata = session.loadWeights(new Uint8Array(bytes), name);
    return { source: name, metadata };
  },
  async 'train-start'({ lr = 0.05, batch = 64, seed = 1, epochs = 1 }) {
    await Promise.all([ensureMnist('train'), ensureMnist('test')]);
    session.startTraining({ lr, batch, seed, epochs });
    running = true;
    startPump();
    return {};
  },
  'train-pause'() {
    running = false;
    return { running };
  },
  'train-resume'() {
    running = session.training();
    if (running) startPump();
    return { running };
  },
  'train-lr'({ lr }) {
    return { lr: session.setLearningRate(lr) };
  },
  'add-example'({ label }) {
    return { count: session.addExample(label) };
  },
  async 'fine-tune'({ steps = 50, lr = 0.01 }) {
    await ensureMnist('train');
    return { losses: Array.from(session.fineTune(steps, lr)) };
  },
  async 'train-steps'({ steps, seed = 1, lr = 0.05, batch = 64 }) {
    await ensureMnist('train');
    running = false;
    session.startTraining({ lr, batch, seed, epochs: 1 });
    return { losses: Array.from(session.trainSteps(steps)) };
  },
};

// One request at a time, in order: a slow one (fetching MNIST) must not let
// a later one run on a half-made session.
let queue = Promise.resolve();
self.onmessage = ({ data }) => {
  const { id, type, ...args } = data;
  queue = queue.then(async () => {
    try {
      const handler = handlers[type];
      if (!handler) throw new Error(`unknown request '${type}'`);
      if (!session && type !== 'init') throw new Error('the module is not loaded yet (send init first)');
      postMessage({ id, ok: true, value: await handler(args) });
    } catch (e) {
      postMessage({ id, ok: false, error: e && e.message ? e.message : String(e) });
    }
  });
};
