import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs on stdout. Credentials that can reach a log line
 * (passwords, push endpoints and tokens) are redacted by path.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { name: 'herald' },
    redact: { paths: ['password', '*.password', 'endpoint', '*.endpoint', 'token', '*.token', 'secret', '*.secret'], censor: '[redacted]' },
  });
}
