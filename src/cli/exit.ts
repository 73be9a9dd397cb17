/** Exit codes scripts can rely on. */
export const ExitCode = {
  ok: 0,
  /** Something failed that is not one of the cases below. */
  failure: 1,
  /** Bad command-line usage or bad input (named in the message). */
  usage: 2,
  /**
   * The Temporal server (or another required service) is not reachable, or Temporal is not set up for
   * scrapeflow (namespace or search attributes missing: `scrapeflow cluster setup` fixes it).
   */
  unavailable: 3,
  /** The batch or workflow named does not exist. */
  notFound: 4,
  /** `--wait` / `--watch` ended with the batch not completed (paused, cancelled or with failures). */
  batchNotCompleted: 5,
  /** The batch has already ended, so it cannot be paused, resumed or cancelled. */
  batchEnded: 6,
  /** The batch id is already taken (a batch runs or ran under it, or the store holds input for it). */
  batchIdTaken: 7,
  /**
   * `--wait` / `--watch`: the batch's workflow failed, was terminated or timed out (the message printed).
   */
  batchFailed: 8,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI prints as one line, with the exit code it maps to. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
