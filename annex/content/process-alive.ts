/**
 * Whether a process with this id exists, for lock and pid files a killed process may have left behind.
 * EPERM means it exists but belongs to someone else: still alive, its lock still holds.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
