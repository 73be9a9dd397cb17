import { ExitCode } from '../errors.js';

// Declared with the error table that maps codes to them; the CLI's modules import them from here.
export { ExitCode };

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
