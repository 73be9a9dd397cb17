/**
 * Bytes of the demo site's media assets. They only need to be requested (the counters count them), so
 * they are tiny: a valid 1x1 PNG and a short silent WAV, and placeholder video and font bodies that a
 * browser fetches and then fails to decode.
 */
import type { AssetKind } from './counters.js';

const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** 8 kHz, 8-bit mono, 800 samples of silence (0.1 s). */
function silentWav(samples: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24); // sample rate
  header.writeUInt32LE(8000, 28); // byte rate
  header.writeUInt16LE(1, 32); // block align
  header.writeUInt16LE(8, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples, 40);
  return Buffer.concat([header, Buffer.alloc(samples, 0x80)]);
}

export interface Asset {
  kind: AssetKind;
  contentType: string;
  body: Buffer;
  /** What the file name must look like. */
  name: RegExp;
}

/** Keyed by the folder under `/assets/`. */
export const ASSETS: Record<string, Asset> = {
  img: { kind: 'image', contentType: 'image/png', body: PNG_1X1, name: /^[\w-]{1,64}\.png$/ },
  video: {
    kind: 'video',
    contentType: 'video/webm',
    body: Buffer.from([0x1a, 0x45, 0xdf, 0xa3, ...Buffer.alloc(60)]),
    name: /^[\w-]{1,64}\.webm$/,
  },
  audio: { kind: 'audio', contentType: 'audio/wav', body: silentWav(800), name: /^[\w-]{1,64}\.wav$/ },
  font: {
    kind: 'font',
    contentType: 'font/woff2',
    body: Buffer.concat([Buffer.from('wOF2', 'ascii'), Buffer.alloc(60)]),
    name: /^[\w-]{1,64}\.woff2$/,
  },
};
