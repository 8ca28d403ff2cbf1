/** The command could not be started (not found, not executable, bad working directory). */
export class RunSpawnError extends Error {
  override readonly name = 'RunSpawnError';

  constructor(
    message: string,
    readonly command: string,
    /** errno code such as ENOENT or EACCES when the system gave one. */
    readonly code: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The run's AbortSignal was already aborted, so nothing was started. */
export class RunAbortedError extends Error {
  override readonly name = 'RunAbortedError';
}

/**
 * The command ran (or would have) but could not be measured, e.g. /proc is missing or
 * unreadable. Thrown only once the command has exited, never leaving it unwatched.
 */
export class RunMeasureError extends Error {
  override readonly name = 'RunMeasureError';
}
