// Turns a container's raw stdout/stderr bytes into CRI log lines (`<time> <stream> <F|P> <content>`),
// splitting lines longer than 16 KiB into partial (P) lines as containerd does, so a process that
// never writes a newline cannot make the writer buffer without bound.
import { criLogLine } from '../types.js';

/** containerd's default max_container_log_line_size. */
export const MAX_LOG_LINE = 16 * 1024;

export class CriLineSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    private readonly emit: (line: string) => void,
    private readonly maxLine = MAX_LOG_LINE,
    private readonly now: () => Date = () => new Date(),
  ) {}

  write(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      let piece = chunk.subarray(start, end);
      // Fill the pending line up to maxLine; overflow goes out as P lines.
      while (this.pendingLength + piece.length > this.maxLine) {
        const take = this.maxLine - this.pendingLength;
        this.pending.push(piece.subarray(0, take));
        this.flush(true);
        piece = piece.subarray(take);
      }
      if (piece.length > 0) {
        this.pending.push(piece);
        this.pendingLength += piece.length;
      }
      if (nl < 0) return;
      this.flush(false);
      start = nl + 1;
      if (start >= chunk.length) return;
    }
  }

  /** At EOF: what is left goes out as a full line. */
  end(): void {
    if (this.pendingLength > 0) this.flush(false);
  }

  private flush(partial: boolean): void {
    const text = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingLength = 0;
    this.emit(criLogLine(this.stream, text, partial, this.now()));
  }
}
