// Whole writes and streamed line reads for the file engine's append-only files (journal, event log, snapshot).
import { closeSync, fdatasync, constants as fsConstants, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/** The few file operations an append needs; tests swap them for ones that write short or fail (a full disk). */
export interface AppendFile {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}
export type OpenAppend = (path: string) => Promise<AppendFile>;

/**
 * Opens a file for writing at explicit positions (created if missing, never truncated). Writes are synchronous: they
 * only copy into the page cache, which costs less than a trip through the thread pool; the flush is asynchronous.
 */
export const openAppend: OpenAppend = async (path) => {
  // Not O_APPEND: writes go to explicit positions (after the last whole line), so a torn line is overwritten.
  const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
  let closed = false;
  return {
    write: async (buffer, offset, length, position) => ({ bytesWritten: writeSync(fd, buffer, offset, length, position) }),
    datasync: () => new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve()))),
    truncate: async (length) => ftruncateSync(fd, length),
    // Once: a second close (a shutdown racing a rotation) must not close whatever file took the number since.
    close: async () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
};

/**
 * Writes all of `buffer` at `position`: a short write (a nearly full disk, a signal) is continued until every byte is
 * written; a write that makes no progress or fails throws, so the caller fails its batch instead of acknowledging it.
 */
export async function writeFully(file: AppendFile, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await file.write(buffer, done, buffer.length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('No space left on device (write made no progress)'), { code: 'ENOSPC' });
    done += bytesWritten;
  }
}

const CHUNK = 1 << 20;

/**
 * Calls `onLine(line, start, end)` for every whole line of a file (byte offsets of the line without its newline),
 * reading a chunk at a time: a segment of any size is never held as one string. Stops early when `onLine` returns
 * false. Returns the byte length of the whole lines (where a torn last line, if any, begins). Content ends at the
 * first zero byte.
 */
export function forEachLine(path: string, onLine: (line: string, start: number, end: number) => boolean | undefined, from = 0): number {
  const fd = openSync(path, 'r');
  try {
    let carry = Buffer.alloc(0);
    let carryStart = from;
    let position = from;
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (let ended = false; !ended; ) {
      let read = readSync(fd, chunk, 0, CHUNK, position);
      if (read === 0) return carryStart;
      // A zero byte ends the content: never in JSON text, it is what a preallocated (journal) or power-cut file holds.
      const nul = chunk.subarray(0, read).indexOf(0);
      if (nul !== -1) [read, ended] = [nul, true];
      position += read;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        const go = onLine(data.toString('utf8', start, nl), carryStart + start, carryStart + nl);
        start = nl + 1;
        if (go === false) return carryStart + start;
      }
      carry = Buffer.from(data.subarray(start));
      carryStart += start;
    }
    return carryStart;
  } finally {
    closeSync(fd);
  }
}

/** The last whole line of a file (one ending in a newline) and its byte range, read backwards; null if none. */
export function lastLine(path: string, size: number): { line: string; start: number; end: number } | null {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let bufStart = size;
    let end = -1;
    while (bufStart > 0) {
      const length = Math.min(64 * 1024, bufStart);
      bufStart -= length;
      const more = Buffer.allocUnsafe(length);
      readSync(fd, more, 0, length, bufStart);
      buf = Buffer.concat([more, buf]);
      if (end === -1) {
        const nl = buf.lastIndexOf(10);
        if (nl === -1) continue;
        end = bufStart + nl;
      }
      const rel = end - bufStart;
      const prev = rel > 0 ? buf.lastIndexOf(10, rel - 1) : -1;
      if (prev !== -1) return { line: buf.toString('utf8', prev + 1, rel), start: bufStart + prev + 1, end };
    }
    return end === -1 ? null : { line: buf.toString('utf8', 0, end), start: 0, end };
  } finally {
    closeSync(fd);
  }
}
