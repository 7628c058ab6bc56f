// A tiny static server for the browser demo (node's own http module, no dependencies).
//
//   node web/serve.mjs [--port 8080] [--root DIR] [--data DIR]
//
// Serves --root (default <repo>/build-wasm/web/site) at / and --data (default <repo>/data) at /data/.
// Every response carries the cross-origin isolation headers, because the threaded WebAssembly build
// needs SharedArrayBuffer, which browsers only allow on cross-origin isolated pages.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const port = Number(option('port', '8080'));
const root = path.resolve(option('root', path.join(repo, 'build-wasm/web/site')));
const data = path.resolve(option('data', path.join(repo, 'data')));

// .gz is plain bytes on purpose: the worker decompresses MNIST itself, so no Content-Encoding.
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'application/javascript', '.mjs': 'application/javascript',
  '.wasm': 'application/wasm', '.css': 'text/css; charset=utf-8', '.json': 'application/json',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream', '.gz': 'application/octet-stream',
};

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
};

function send(res, status, text) {
  res.writeHead(status, { ...isolation, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

// Maps a URL path to a file under one of the two roots, or null when it would escape that root.
function resolveFile(urlPath) {
  let base = root, rest = urlPath;
  if (urlPath === '/data' || urlPath.startsWith('/data/')) { base = data; rest = urlPath.slice('/data'.length); }
  const file = path.resolve(base, '.' + path.posix.normalize('/' + rest));
  return file === base || file.startsWith(base + path.sep) ? file : null;
}

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
  let urlPath;
  try { urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { return send(res, 400, 'bad url\n'); }
  // Check the raw path too: normalisation would quietly turn /a/../../b into /b.
  if (urlPath.split('/').includes('..') || urlPath.includes('\0')) return send(res, 403, 'forbidden\n');
  let file = resolveFile(urlPath);
  if (!file) return send(res, 403, 'forbidden\n');
  fs.stat(file, (err, st) => {
    if (!err && st.isDirectory()) { file = path.join(file, 'index.html'); st = fs.existsSync(file) ? fs.statSync(file) : null; }
    if (err || !st || !st.isFile()) return send(res, 404, `not found: ${urlPath}\n`);
    const type = types[path.extname(file).toLowerCase()] || 'application/octet-stream';
    res.writeHead(200, { ...isolation, 'Content-Type': type, 'Content-Length': st.size });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
});

server.listen(port, () => {
  console.log(`serving http://localhost:${server.address().port}/`);
  console.log(`  root ${root}\n  data ${data}`);
});
