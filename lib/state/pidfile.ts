// Process identity for pid files and lock owners: alive, and since when.
import fs from 'node:fs';

/** Whether a process exists (kill 0; EPERM means it does). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The start time of process `pid` (field 22 of /proc/PID/stat, in clock
 * ticks since boot), or null when there is no such process. With the pid it
 * names one process, even after the pid is reused.
 */
export function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: skip past its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
