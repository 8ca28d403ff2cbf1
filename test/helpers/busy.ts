/** Keeps this thread busy for at least `ms` of wall time (a hook that takes measurable time). */
export function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}
