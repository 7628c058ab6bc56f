// The drawing pad: a square canvas the user draws a digit on with mouse, finger or pen.
//
// Strokes are kept as lists of points in pad units (0..1 across the side), not pixels, so that the
// same strokes can be redrawn at any size: on screen at devicePixelRatio, and for the network on a
// fixed 280x280 offscreen canvas, which makes the network's input independent of the screen.
//
// The strokes are painted on a TRANSPARENT canvas; the light paper is the canvas's CSS background.
// The ink the network gets is the alpha channel: gray[i] = alpha / 255, exactly k/255.

const EXPORT_SIDE = 280;       // side of the image handed to the network (MNIST-like 10x of 28)
const WIDTH_FRACTION = 1 / 14; // stroke width relative to the side: like a pen stroke on a 28px digit
const INK = '#1d2433';

export class DrawingPad {
  // onChange(): after every change of the strokes (while drawing, on clear and undo).
  // onStrokeEnd(): when a stroke is finished, or strokes are removed (the drawing is "settled").
  constructor(canvas, { onChange = () => {}, onStrokeEnd = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.strokes = [];       // finished and current strokes: arrays of {x, y} in 0..1
    this.current = null;     // the stroke being drawn, also the last element of this.strokes
    this.pointerId = null;   // the one pointer that draws; a second finger is ignored
    this.guide = null;       // optional crop box / centre of mass drawn over the ink (not exported)
    this.onChange = onChange;
    this.onStrokeEnd = onStrokeEnd;

    canvas.addEventListener('pointerdown', (e) => this.#down(e));
    canvas.addEventListener('pointermove', (e) => this.#move(e));
    canvas.addEventListener('pointerup', (e) => this.#up(e));
    canvas.addEventListener('pointercancel', (e) => this.#up(e));
    // The backing store follows the CSS size times devicePixelRatio, so strokes stay sharp.
    new ResizeObserver(() => this.#resize()).observe(canvas);
    this.#resize();
  }

  isEmpty() { return this.strokes.length === 0; }

  clear() {
    if (this.isEmpty()) return;
    this.strokes = [];
    this.#endPointer();
    this.#changed(true);
  }

  undo() {
    if (this.isEmpty()) return;
    this.strokes.pop();
    this.#endPointer();
    this.#changed(true);
  }

  // Replaces all strokes (pad units, 0..1); for tests and demos. Counts as finished strokes.
  setStrokes(strokes) {
    this.strokes = strokes.map((s) => s.map((p) => ({ x: p.x, y: p.y })));
    this.#endPointer();
    this.#changed(true);
  }

  // Draws the preprocessing's crop box and centre of mass (in export pixels) as a light guide.
  setGuide(guide) {
    this.guide = guide;
    this.#redraw();
  }

  // The ink as the network input: {gray: Float32Array(280*280) of alpha/255, width, height}.
  gray() {
    const off = document.createElement('canvas');
    off.width = off.height = EXPORT_SIDE;
    const ctx = off.getContext('2d', { willReadFrequently: true });
    paintStrokes(ctx, this.strokes, EXPORT_SIDE);
    const rgba = ctx.getImageData(0, 0, EXPORT_SIDE, EXPORT_SIDE).data;
    const gray = new Float32Array(EXPORT_SIDE * EXPORT_SIDE);
    for (let i = 0; i < gray.length; i++) gray[i] = rgba[4 * i + 3] / 255;
    return { gray, width: EXPORT_SIDE, height: EXPORT_SIDE };
  }

  // --- pointer handling --------------------------------------------------------------------

  #point(e) {
    const r = this.canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return { x: clamp((e.clientX - r.left) / r.width), y: clamp((e.clientY - r.top) / r.height) };
  }

  #down(e) {
    if (this.pointerId !== null) return;          // already drawing with another pointer
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    e.preventDefault();
    this.pointerId = e.pointerId;
    // Capture: keep receiving moves when the pointer leaves the canvas mid-stroke.
    try { this.canvas.setPointerCapture(e.pointerId); } catch { /* a synthetic event has no live pointer */ }
    this.current = [this.#point(e)];
    this.strokes.push(this.current);
    this.#changed(false);
  }

  #move(e) {
    if (e.pointerId !== this.pointerId) return;
    e.preventDefault();
    // Coalesced events are the intermediate positions the browser merged into this one event;
    // using them keeps fast strokes smooth instead of polygonal.
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const c of events.length ? events : [e]) this.current.push(this.#point(c));
    this.#changed(false);
  }

  #up(e) {
    if (e.pointerId !== this.pointerId) return;
    if (e.type === 'pointerup') this.current.push(this.#point(e));
    this.#endPointer();
    this.#changed(true);
  }

  #endPointer() {
    if (this.pointerId !== null && this.canvas.hasPointerCapture(this.pointerId)) {
      this.canvas.releasePointerCapture(this.pointerId);
    }
    this.pointerId = null;
    this.current = null;
  }

  #changed(settled) {
    if (settled || this.isEmpty()) this.guide = null; // the old guide no longer matches the ink
    this.#redraw();
    this.onChange();
    if (settled) this.onStrokeEnd();
  }

  // --- painting ----------------------------------------------------------------------------

  #resize() {
    const side = Math.round(this.canvas.clientWidth * (window.devicePixelRatio || 1));
    if (side > 0 && side !== this.canvas.width) {
      this.canvas.width = this.canvas.height = side;
      this.#redraw();
    }
  }

  #redraw() {
    const side = this.canvas.width;
    this.ctx.clearRect(0, 0, side, side);
    paintStrokes(this.ctx, this.strokes, side);
    if (this.guide) paintGuide(this.ctx, this.guide, side / EXPORT_SIDE);
  }
}

// Paints strokes (pad units) onto a side x side canvas: round, anti-aliased, with quadratic
// curves through the midpoints of consecutive points, so the line is smooth between samples.
function paintStrokes(ctx, strokes, side) {
  ctx.save();
  ctx.strokeStyle = ctx.fillStyle = INK;
  ctx.lineWidth = side * WIDTH_FRACTION;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  for (const stroke of strokes) {
    const p = stroke.map((q) => ({ x: q.x * side, y: q.y * side }));
    if (p.length === 1 || p.every((q) => q.x === p[0].x && q.y === p[0].y)) {
      // A tap: a dot as wide as a stroke.
      ctx.beginPath();
      ctx.arc(p[0].x, p[0].y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(p[0].x, p[0].y);
    for (let i = 1; i < p.length - 1; i++) {
      const mx = (p[i].x + p[i + 1].x) / 2, my = (p[i].y + p[i + 1].y) / 2;
      ctx.quadraticCurveTo(p[i].x, p[i].y, mx, my);
    }
    ctx.lineTo(p[p.length - 1].x, p[p.length - 1].y);
    ctx.stroke();
  }
  ctx.restore();
}

// The crop box (dashed) and centre of mass (a small cross), in export pixels times `scale`.
function paintGuide(ctx, { box, centre }, scale) {
  ctx.save();
  ctx.strokeStyle = 'rgba(37, 99, 235, 0.55)';
  ctx.lineWidth = Math.max(1, scale);
  if (box && box.width > 0 && box.height > 0) {
    ctx.setLineDash([6 * scale, 4 * scale]);
    ctx.strokeRect(box.x * scale, box.y * scale, box.width * scale, box.height * scale);
  }
  if (centre) {
    const r = 6 * scale, x = centre.x * scale, y = centre.y * scale;
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(x - r, y); ctx.lineTo(x + r, y);
    ctx.moveTo(x, y - r); ctx.lineTo(x, y + r);
    ctx.stroke();
  }
  ctx.restore();
}
