// Turns an MNIST digit into pen strokes, so the browser tests can draw it on the pad with real
// pointer events, the way a person would: the image is binarised, thinned to a one-pixel
// skeleton (Zhang–Suen), and the skeleton is walked into polylines (one per pen stroke).
//
//   node tests/web/strokes.mjs [--data data] [--count 6]
// prints a few digits next to a re-rendering of their strokes, and how much of the ink the
// strokes cover, as a check of this file on its own (no browser needed).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMnist } from './mnist.mjs';

// Ink where the gray value is at least half (MNIST: 0 = paper, 255 = full ink).
export function binarise(pixels, threshold = 128) {
  return Uint8Array.from(pixels, (v) => (v >= threshold ? 1 : 0));
}

// Zhang–Suen thinning (Zhang & Suen, CACM 1984). Peels boundary pixels in two alternating
// sub-steps (south-east boundary, then north-west) until nothing changes, never removing a pixel
// whose removal would break connectivity or shorten a line end. Returns a new 0/1 image.
export function thin(bits, width, height) {
  const img = Uint8Array.from(bits);
  const at = (x, y) => (x >= 0 && y >= 0 && x < width && y < height ? img[y * width + x] : 0);
  let changed = true;
  while (changed) {
    changed = false;
    for (const step of [0, 1]) {
      const remove = [];
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          if (!img[y * width + x]) continue;
          // Neighbours P2..P9, clockwise from north.
          const p = [at(x, y - 1), at(x + 1, y - 1), at(x + 1, y), at(x + 1, y + 1),
            at(x, y + 1), at(x - 1, y + 1), at(x - 1, y), at(x - 1, y - 1)];
          const [p2, , p4, , p6, , p8] = p;
          const b = p.reduce((s, v) => s + v, 0);           // ink neighbours
          let a = 0;                                          // 0 -> 1 transitions around the ring
          for (let i = 0; i < 8; i++) if (!p[i] && p[(i + 1) % 8]) a++;
          if (b < 2 || b > 6 || a !== 1) continue;            // an end, interior, or a bridge: keep
          const ok = step === 0 ? !(p2 && p4 && p6) && !(p4 && p6 && p8)
            : !(p2 && p4 && p8) && !(p2 && p6 && p8);
          if (ok) remove.push(y * width + x);
        }
      }
      // Remove after the scan, so every pixel of one sub-step sees the same image.
      for (const i of remove) img[i] = 0;
      if (remove.length) changed = true;
    }
  }
  return img;
}

// 4-neighbours before diagonals: a thinned staircase then walks along its steps instead of cutting
// the corners and leaving single pixels behind.
const STEPS = [[1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [-1, 1], [-1, -1], [1, -1]];

// Walks a skeleton into polylines: arrays of {x, y} pixel coordinates. Every skeleton pixel ends
// up in exactly one polyline (plus joints shared with the ink drawn before it).
export function trace(skeleton, width, height) {
  const on = (x, y) => x >= 0 && y >= 0 && x < width && y < height && skeleton[y * width + x] === 1;
  const visited = new Uint8Array(width * height);
  const neighbours = (q) => STEPS.map(([dx, dy]) => ({ x: q.x + dx, y: q.y + dy })).filter((n) => on(n.x, n.y));
  const isVisited = (q) => visited[q.y * width + q.x] === 1;

  // Start at line ends first (one neighbour), so an open stroke is drawn end to end; then
  // whatever is left (closed loops such as a 0, and branches) in raster order.
  const pixels = [];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (on(x, y)) pixels.push({ x, y });
  const starts = [...pixels.filter((q) => neighbours(q).length === 1), ...pixels];

  const strokes = [];
  for (const start of starts) {
    if (isVisited(start)) continue;
    const stroke = [];
    // A branch off ink already drawn starts from that ink, so the pen joins it as a hand would.
    const joint = neighbours(start).find(isVisited);
    if (joint) stroke.push(joint);
    let cur = start;
    while (cur) {
      visited[cur.y * width + cur.x] = 1;
      stroke.push(cur);
      cur = neighbours(cur).find((n) => !isVisited(n));
    }
    // Close a loop (or meet a junction) by ending on the drawn neighbour the walk came round to;
    // the last few points are excluded, they are just where the walk came from.
    const end = stroke[stroke.length - 1];
    const recent = stroke.slice(-4);
    const meet = neighbours(end).find((n) => isVisited(n) && !recent.some((r) => r.x === n.x && r.y === n.y));
    if (meet) stroke.push(meet);
    strokes.push(stroke);
  }
  return strokes;
}

// Everything in one: MNIST pixels (Uint8Array(width*height)) -> {strokes, box}, where box is the
// skeleton's bounding box {x0, y0, x1, y1} in pixels (inclusive), for placing the digit.
export function digitStrokes(pixels, width = 28, height = 28) {
  const skeleton = thin(binarise(pixels), width, height);
  const strokes = trace(skeleton, width, height);
  const pts = strokes.flat();
  const box = {
    x0: Math.min(...pts.map((p) => p.x)), y0: Math.min(...pts.map((p) => p.y)),
    x1: Math.max(...pts.map((p) => p.x)), y1: Math.max(...pts.map((p) => p.y)),
  };
  return { strokes, box };
}

// Renders polylines back onto a width x height grid as lines `radius` pixels thick (distance to
// the segments), for checking that the strokes still look like the digit.
export function render(strokes, width, height, radius = 1.0) {
  const out = new Uint8Array(width * height);
  const distance = (px, py, a, b) => {
    const dx = b.x - a.x, dy = b.y - a.y;
    const len2 = dx * dx + dy * dy;
    const t = len2 ? Math.max(0, Math.min(1, ((px - a.x) * dx + (py - a.y) * dy) / len2)) : 0;
    return Math.hypot(px - a.x - t * dx, py - a.y - t * dy);
  };
  for (const s of strokes) {
    const segments = s.length === 1 ? [[s[0], s[0]]] : s.slice(1).map((b, i) => [s[i], b]);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (segments.some(([a, b]) => distance(x, y, a, b) <= radius)) out[y * width + x] = 1;
      }
    }
  }
  return out;
}

// --- self-check: node tests/web/strokes.mjs ---------------------------------------------------
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const option = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
  };
  const mnist = loadMnist(option('data', 'data'));
  const show = Number(option('count', '6'));
  let covered = 0, ink = 0, stray = 0, drawn = 0, strokeCount = 0, n = 0;
  for (let i = 0; i < mnist.count; i += 50, n++) {
    const bits = binarise(mnist.image(i));
    const { strokes } = digitStrokes(mnist.image(i));
    const again = render(strokes, 28, 28);
    strokeCount += strokes.length;
    // Coverage: the original ink near a stroke, and the stroke pixels on or next to original ink.
    const near = (img, x, y) => [-1, 0, 1].some((dy) => [-1, 0, 1].some((dx) => img[(y + dy) * 28 + x + dx]));
    for (let y = 1; y < 27; y++) {
      for (let x = 1; x < 27; x++) {
        if (bits[y * 28 + x]) { ink++; if (near(again, x, y)) covered++; }
        if (again[y * 28 + x]) { drawn++; if (!near(bits, x, y)) stray++; }
      }
    }
    if (n < show) {
      console.log(`test image ${i}, label ${mnist.label(i)}, ${strokes.length} stroke(s): original | strokes redrawn`);
      for (let y = 0; y < 28; y++) {
        const row = (img) => Array.from(img.subarray(y * 28, y * 28 + 28), (v) => (v ? '#' : '.')).join('');
        console.log(`  ${row(bits)}   ${row(again)}`);
      }
    }
  }
  console.log(`${n} digits: ${(strokeCount / n).toFixed(2)} strokes each; ink within 1 px of a stroke `
    + `${(100 * covered / ink).toFixed(2)}%, stroke pixels off the ink ${(100 * stray / drawn).toFixed(2)}%`);
}
