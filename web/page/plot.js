// A small canvas line plot for the live training curves: several series against one x axis
// (samples seen), each series on the left or the right y axis, with a few "nice" ticks.
//
//   const plot = new LinePlot(canvas, {
//     xLabel: 'samples',
//     series: [{ name: 'loss', color: '#..', axis: 'left' },
//              { name: 'accuracy', color: '#..', axis: 'right', min: 0, max: 1, format: pct }],
//   });
//   plot.add(x, [loss, accuracy]);  plot.clear();

export class LinePlot {
  constructor(canvas, { series, xLabel = '' }) {
    this.canvas = canvas;
    this.series = series;
    this.xLabel = xLabel;
    this.points = series.map(() => []); // per series: [x, y] pairs
    this.pending = false;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  add(x, values) {
    values.forEach((y, i) => {
      if (Number.isFinite(x) && Number.isFinite(y)) this.points[i].push([x, y]);
    });
    this.#schedule();
  }

  clear() {
    this.points = this.series.map(() => []);
    this.#schedule();
  }

  // Redraws at most once per animation frame however often data arrives.
  #schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const cssW = this.canvas.clientWidth, cssH = this.canvas.clientHeight;
    if (!cssW || !cssH) return;
    this.canvas.width = Math.round(cssW * dpr);
    this.canvas.height = Math.round(cssH * dpr);
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.font = '11px system-ui, sans-serif';

    const hasRight = this.series.some((s) => s.axis === 'right');
    const m = { left: 44, right: hasRight ? 44 : 12, top: 22, bottom: this.xLabel ? 40 : 26 };
    const w = cssW - m.left - m.right, h = cssH - m.top - m.bottom;
    if (w < 20 || h < 20) return;

    // Ranges: x over all series; y per axis, fixed where the series says so.
    const all = this.points.flat();
    const xMax = all.length ? Math.max(...all.map((p) => p[0])) : 1;
    const xTicks = niceTicks(0, xMax || 1, Math.max(2, Math.floor(w / 80)));
    const xEnd = xTicks[xTicks.length - 1];
    const axes = {};
    for (const side of ['left', 'right']) {
      const idx = this.series.map((s, i) => (s.axis === side ? i : -1)).filter((i) => i >= 0);
      if (!idx.length) continue;
      const s0 = this.series[idx[0]];
      const ys = idx.flatMap((i) => this.points[i].map((p) => p[1]));
      const lo = s0.min ?? (ys.length ? Math.min(0, ...ys) : 0);
      const hi = s0.max ?? (ys.length ? Math.max(...ys) : 1);
      const ticks = niceTicks(lo, hi > lo ? hi : lo + 1, Math.max(2, Math.floor(h / 40)));
      axes[side] = { ticks, lo: ticks[0], hi: ticks[ticks.length - 1], format: s0.format || fmt };
    }
    const X = (x) => m.left + (x / xEnd) * w;
    const Y = (a, y) => m.top + h - ((y - a.lo) / (a.hi - a.lo)) * h;

    // Grid and tick labels.
    ctx.strokeStyle = '#e5e7eb';
    ctx.fillStyle = '#6b7280';
    ctx.lineWidth = 1;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of xTicks) {
      line(ctx, X(t), m.top, X(t), m.top + h);
      ctx.fillText(fmt(t), X(t), m.top + h + 5);
    }
    ctx.textBaseline = 'middle';
    for (const [side, a] of Object.entries(axes)) {
      ctx.textAlign = side === 'left' ? 'right' : 'left';
      const tx = side === 'left' ? m.left - 6 : m.left + w + 6;
      for (const t of a.ticks) {
        if (side === 'left' || !axes.left) line(ctx, m.left, Y(a, t), m.left + w, Y(a, t));
        ctx.fillText(a.format(t), tx, Y(a, t));
      }
    }
    ctx.strokeStyle = '#9ca3af';
    line(ctx, m.left, m.top + h, m.left + w, m.top + h);
    if (this.xLabel) {
      ctx.textAlign = 'center';
      ctx.textBaseline = 'bottom';
      ctx.fillText(this.xLabel, m.left + w / 2, cssH - 2);
    }

    // Legend (top left) and the series themselves.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    let lx = m.left;
    this.series.forEach((s, i) => {
      ctx.fillStyle = s.color;
      ctx.fillRect(lx, m.top - 12, 10, 3);
      const pts = this.points[i];
      const last = pts.length ? ` ${(s.format || fmt)(pts[pts.length - 1][1])}` : '';
      const label = `${s.name}${last}`;
      ctx.fillText(label, lx + 14, m.top - 6);
      lx += 14 + ctx.measureText(label).width + 14;

      const a = axes[s.axis];
      if (!a || !pts.length) return;
      ctx.save();
      ctx.beginPath();
      ctx.rect(m.left, m.top, w, h);
      ctx.clip();
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.75;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      pts.forEach(([x, y], j) => (j ? ctx.lineTo(X(x), Y(a, y)) : ctx.moveTo(X(x), Y(a, y))));
      ctx.stroke();
      if (pts.length === 1) {
        ctx.fillStyle = s.color;
        ctx.fillRect(X(pts[0][0]) - 2, Y(a, pts[0][1]) - 2, 4, 4);
      }
      ctx.restore();
    });
  }
}

function line(ctx, x0, y0, x1, y1) {
  ctx.beginPath();
  ctx.moveTo(Math.round(x0) + 0.5, Math.round(y0) + 0.5);
  ctx.lineTo(Math.round(x1) + 0.5, Math.round(y1) + 0.5);
  ctx.stroke();
}

// Tick values covering [lo, hi] with steps of 1, 2 or 5 times a power of ten, about `count` of them.
export function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) || 10 * mag;
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let t = start; t < hi + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

// Compact numbers for tick labels: 12000 -> 12k, 0.25 -> 0.25.
function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}
