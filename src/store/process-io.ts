/**
 * process_raw stores a process's I/O counters (read_bytes, write_bytes) only in a row where
 * they changed since its previous row, and in every IO_REPEAT_ROWS-th row at least; NULL
 * otherwise, and NULL throughout when /proc/PID/io is unreadable. A reader takes them from
 * the latest row that has them among the IO_REPEAT_ROWS rows at or before the time asked,
 * so it never walks a process's whole history (an unreadable one has nothing to find).
 */
export const IO_REPEAT_ROWS = 32;

/**
 * SQL for `expr` (over read_bytes, write_bytes) from the latest row with I/O counters of
 * process `id` at or before `bound` (SQL expressions); NULL when there is none.
 */
export function ioAtSql(expr: string, id: string, bound: string): string {
  return `(SELECT ${expr} FROM (
    SELECT ts, read_bytes, write_bytes FROM process_raw io WHERE io.process_id = ${id}
      AND io.ts <= ${bound} ORDER BY io.ts DESC LIMIT ${IO_REPEAT_ROWS})
    WHERE read_bytes IS NOT NULL ORDER BY ts DESC LIMIT 1)`;
}
