// Log lines go to the console (what `docker logs` shows) and, when the product's log
// directory exists (it is a mounted volume in the vendor bundle), to a file there too.
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';

export type ConsoleStream = 'stdout' | 'stderr' | 'none';

export class LogSink {
  private readonly file: string | undefined;

  constructor(
    private readonly stream: ConsoleStream,
    dir: string | undefined,
    fileName: string,
  ) {
    this.file = dir && existsSync(dir) ? path.join(dir, fileName) : undefined;
  }

  write(line: string): void {
    if (this.stream === 'stdout') process.stdout.write(`${line}\n`);
    else if (this.stream === 'stderr') process.stderr.write(`${line}\n`);
    if (this.file) {
      try {
        // Synchronous and unbuffered: a killed container still leaves its last lines behind.
        appendFileSync(this.file, `${line}\n`);
      } catch {
        // A full or read-only disk must not take the stand-in down.
      }
    }
  }
}

/** nginx's error-log time format: 2022/09/01 12:00:00 */
export function nginxTime(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** nginx's access-log time format: 01/Sep/2022:12:00:00 +0000 */
export function accessLogTime(d = new Date()): string {
  const months = [
    'Jan',
    'Feb',
    'Mar',
    'Apr',
    'May',
    'Jun',
    'Jul',
    'Aug',
    'Sep',
    'Oct',
    'Nov',
    'Dec',
  ];
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const tz = `${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  return `${p(d.getDate())}/${months[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${tz}`;
}
