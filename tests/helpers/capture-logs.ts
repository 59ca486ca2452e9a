import Transport from 'winston-transport';

/** A winston transport that keeps every log entry in memory, serialised as the files would be. */
export function captureLogs() {
  const lines: string[] = [];
  const transport = new Transport({ level: 'debug' });
  transport.log = (info: unknown, next: () => void) => {
    lines.push(JSON.stringify(info));
    next();
  };
  return { transport, lines, text: () => lines.join('\n') };
}
