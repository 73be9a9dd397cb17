/** A renderer stand-in whose renders finish when the test says so. */
import { EventEmitter } from 'node:events';
import type { RenderBackend } from '../../devkit/local-api/index.js';
import type { RenderJob, RenderResult } from '../../devkit/local-api/renderer.js';

export class GatedRenderer implements RenderBackend {
  /** `render` is emitted as each render starts. */
  readonly events = new EventEmitter<{ render: [RenderJob] }>();
  readonly #open: Array<(result: RenderResult) => void> = [];

  render(job: RenderJob): Promise<RenderResult> {
    return new Promise((resolve, reject) => {
      job.signal?.addEventListener('abort', () => reject(job.signal?.reason as Error), { once: true });
      this.#open.push(resolve);
      this.events.emit('render', job);
    });
  }

  /** Finishes the oldest open render. */
  finish(result: Partial<RenderResult> = {}): void {
    const next = this.#open.shift();
    if (!next) throw new Error('no render is open');
    next({
      html: '<html><body><h1>Rendered</h1><span data-price="9.99">9.99</span></body></html>',
      status: 200,
      challengeDetected: false,
      solverUsed: false,
      challengeSolved: false,
      waitTimedOut: false,
      ...result,
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
