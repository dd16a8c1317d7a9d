/**
 * A table redrawn in place at the bottom of a terminal, with log lines scrolling above it: each
 * redraw moves the cursor up over the previous table and clears to the end of the screen.
 */
import { Writable } from 'node:stream';

const ESC = '\x1b[';

export class LiveTable {
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;
  private started = false;

  private render: () => string[] = () => [];

  constructor(private readonly out: NodeJS.WriteStream) {}

  /** Log output goes through here, so a log line never lands inside the table. */
  readonly logStream = new Writable({
    write: (chunk: Buffer | string, _enc, done): void => {
      this.out.write(this.erase() + chunk.toString());
      this.drawn = 0;
      if (this.started) this.redraw();
      done();
    },
  });

  start(render: () => string[], intervalMs = 1000): void {
    this.render = render;
    this.started = true;
    this.redraw();
    this.timer = setInterval(() => this.redraw(), intervalMs);
    this.timer.unref();
  }

  /** Cursor back to the table's first line, everything below it cleared. */
  private erase(): string {
    return this.drawn > 0 ? `${ESC}${this.drawn}F${ESC}J` : '';
  }

  redraw(): void {
    // A line wider than the terminal would wrap and the cursor-up count would be wrong: cut it.
    const width = Math.max(20, (this.out.columns || 120) - 1);
    const lines = this.render().map((l) => (l.length > width ? l.slice(0, width - 1) + '…' : l));
    this.out.write(this.erase() + lines.join('\n') + '\n');
    this.drawn = lines.length;
  }

  /** Draw a last time and leave the table on screen. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.started) this.redraw();
    this.started = false;
    this.drawn = 0;
  }
}
