import { type ChildProcess, spawn } from 'node:child_process'

/** Lines of output kept per process for failure reports. */
const LOG_LINES = 400

/** Every child alive right now, killed synchronously if the test process exits without teardown. */
const alive = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL')
})

/** A process death the nemesis did not cause. */
export interface UnexpectedDeath {
  name: string
  code: number | null
  signal: string | null
  at: number
  logTail: string
}

/**
 * One long-lived child process that the nemesis may `kill -9`, pause and restart. It tells apart
 * the deaths it was asked for from any other (the checker's **alive**), keeps the tail of its
 * output, and resolves `start()` only once the child printed its ready line.
 */
export class ManagedProcess {
  child: ChildProcess | null = null
  paused = false
  readonly log: string[] = []
  readonly deaths: UnexpectedDeath[] = []
  #expectingExit = false
  #exited: Promise<void> = Promise.resolve()
  #lineListeners = new Set<(line: string) => void>()

  constructor(
    readonly name: string,
    private readonly command: () => { args: string[]; env?: Record<string, string> },
    /** Pipe stdin (devices read commands from it). */
    private readonly withStdin = false,
  ) {}

  get running(): boolean {
    return this.child !== null
  }

  /** Spawns the process and waits (with a deadline) until a stdout line matches `ready`. */
  async start(ready: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    if (this.child) throw new Error(`${this.name} is already running`)
    const { args, env } = this.command()
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: [this.withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    })
    this.child = child
    alive.add(child)
    this.paused = false
    this.#expectingExit = false
    child.stdin?.on('error', () => {})
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        alive.delete(child)
        if (this.child === child) this.child = null
        if (!this.#expectingExit) {
          this.deaths.push({
            name: this.name,
            code,
            signal,
            at: Date.now(),
            logTail: this.log.slice(-30).join('\n'),
          })
        }
        resolve()
      })
    })
    this.#readLines(child, 'stdout')
    this.#readLines(child, 'stderr')
    return await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        done()
        reject(
          new Error(`${this.name} did not start within ${timeoutMs} ms:\n${this.log.slice(-20).join('\n')}`),
        )
      }, timeoutMs)
      const onLine = (line: string) => {
        const m = ready.exec(line)
        if (m) {
          done()
          resolve(m)
        }
      }
      const onExit = () => {
        done()
        reject(new Error(`${this.name} exited before it was ready:\n${this.log.slice(-20).join('\n')}`))
      }
      const done = () => {
        clearTimeout(timer)
        this.#lineListeners.delete(onLine)
        child.off('exit', onExit)
      }
      this.#lineListeners.add(onLine)
      child.once('exit', onExit)
    })
  }

  /** Subscribes to every stdout/stderr line of every incarnation. */
  onLine(listener: (line: string) => void): void {
    this.#lineListeners.add(listener)
  }

  #readLines(child: ChildProcess, stream: 'stdout' | 'stderr'): void {
    let buffered = ''
    child[stream]!.setEncoding('utf8').on('data', (s: string) => {
      buffered += s
      let nl = buffered.indexOf('\n')
      while (nl >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        this.log.push(line)
        if (this.log.length > LOG_LINES) this.log.splice(0, this.log.length - LOG_LINES)
        for (const l of [...this.#lineListeners]) l(line)
        nl = buffered.indexOf('\n')
      }
    })
  }

  /** Writes one line to stdin. */
  write(line: string): boolean {
    const stdin = this.child?.stdin
    if (!stdin || stdin.destroyed) return false
    stdin.write(`${line}\n`)
    return true
  }

  /** `kill -9`; resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (!this.child) return
    this.#expectingExit = true
    this.child.kill('SIGKILL')
    await this.#exited
  }

  /** SIGTERM (or a graceful command sent by the caller); kills with SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000, signal: NodeJS.Signals | null = 'SIGTERM'): Promise<void> {
    if (!this.child) return
    this.#expectingExit = true
    if (this.paused) this.resume()
    if (signal) this.child.kill(signal)
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs)
    await this.#exited
    clearTimeout(timer)
  }

  /** SIGSTOP. */
  pause(): void {
    if (!this.child || this.paused) return
    this.child.kill('SIGSTOP')
    this.paused = true
  }

  /** SIGCONT. */
  resume(): void {
    if (!this.child || !this.paused) return
    this.child.kill('SIGCONT')
    this.paused = false
  }

  /** Resolves when the current incarnation has exited. */
  whenExited(): Promise<void> {
    return this.#exited
  }
}
