/**
 * Lines in the shape rke-tools writes them (logrus' text formatter without a terminal):
 *   time="2024-05-01T14:03:07Z" level=info msg="Created local backup" name=x runtime=1.2s
 * Fields sorted by key; a value is quoted when it holds anything but [A-Za-z0-9-._/@^+].
 */
export type LogrusLevel = 'debug' | 'info' | 'warning' | 'error' | 'fatal';

export function logrusLine(time: Date, level: LogrusLevel, message: string, fields: Record<string, string | number> = {}): string {
  const parts = [`time=${quote(rfc3339(time))}`, `level=${level}`, `msg=${quote(message)}`];
  for (const key of Object.keys(fields).sort()) parts.push(`${key}=${value(String(fields[key]))}`);
  return parts.join(' ');
}

function value(text: string): string {
  return /^[A-Za-z0-9\-._/@^+]+$/.test(text) ? text : quote(text);
}

/** Go's %q for the text we log: JSON's escaping is the same for these characters. */
function quote(text: string): string {
  return JSON.stringify(text);
}

function rfc3339(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
