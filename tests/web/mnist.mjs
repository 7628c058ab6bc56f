// Reads MNIST's IDX files (the plain, uncompressed ones in data/mnist/) for the browser tests.
//
// IDX: a big-endian header — magic 0x00000803 (images) or 0x00000801 (labels), then the
// dimensions as 32-bit counts — followed by the bytes, row-major.
import fs from 'node:fs';
import path from 'node:path';

function readIdx(file, magic, dims) {
  const bytes = fs.readFileSync(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * dims || view.getUint32(0) !== magic) {
    throw new Error(`${file}: not an IDX file with magic 0x${magic.toString(16).padStart(8, '0')}`);
  }
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * dims;
  const expected = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - offset !== expected) throw new Error(`${file}: ${bytes.length - offset} data bytes, expected ${expected}`);
  return { shape, data: bytes.subarray(offset) };
}

// Returns {count, rows, cols, image(i) -> Uint8Array(rows*cols), label(i) -> 0..9}.
export function loadMnist(dataDir, split = 't10k') {
  const images = readIdx(path.join(dataDir, 'mnist', `${split}-images-idx3-ubyte`), 0x803, 3);
  const labels = readIdx(path.join(dataDir, 'mnist', `${split}-labels-idx1-ubyte`), 0x801, 1);
  const [count, rows, cols] = images.shape;
  if (labels.shape[0] !== count) throw new Error(`MNIST ${split}: ${count} images but ${labels.shape[0]} labels`);
  const size = rows * cols;
  return {
    count, rows, cols,
    image: (i) => images.data.subarray(i * size, (i + 1) * size),
    label: (i) => labels.data[i],
  };
}
