/**
 * Operator-facing log lines on stderr, RKE-style levels. The result table goes to
 * stdout, so scripts can capture it apart from the log.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export function stderrLogger(options: { debug: boolean; write?: (line: string) => void }): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  return {
    info: (message) => write(`INFO ${message}`),
    warn: (message) => write(`WARN ${message}`),
    debug: (message) => {
      if (options.debug) write(`DEBUG ${message}`);
    },
  };
}
