import { type Logger, pino } from 'pino'

/**
 * The relay's structured logger: JSON lines on stderr, or a readable dev format when stderr is a
 * TTY. Fields that could carry secrets are redacted whatever the call site passes.
 */
export function createLogger(level: string, pretty = process.stderr.isTTY === true): Logger {
  const redact = {
    paths: [
      'token',
      'secret',
      'authSecret',
      'meshSecret',
      '*.token',
      '*.authSecret',
      '*.meshSecret',
      'req.headers.authorization',
    ],
    censor: '[redacted]',
  }
  if (pretty) {
    return pino({
      level,
      redact,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, translateTime: 'HH:MM:ss.l' },
      },
    })
  }
  return pino({ level, redact }, pino.destination({ fd: 2, sync: false }))
}

/** Removes any `token=...` query parameter from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]')
}

export type { Logger }
