/**
 * A one-line progress indicator on stderr. It draws only when stderr is a TTY, so pipes, log
 * files and tests see nothing of it; redraws are throttled so that progress never dominates work.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #enabled: boolean
  readonly #label: string
  #total: number | null = null
  #done = 0
  #lastDraw = 0
  #drawn = false

  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream
    this.#enabled = stream.isTTY === true
    this.#label = label
  }

  /** True when this progress indicator writes anything. */
  get enabled(): boolean {
    return this.#enabled
  }

  /** Sets the expected total (units are whatever `advance` counts); unknown totals show a counter. */
  setTotal(total: number | null): void {
    this.#total = total
    this.#draw(false)
  }

  /** Counts `n` more units done. */
  advance(n = 1): void {
    this.#done += n
    this.#draw(false)
  }

  /** Sets the units done. */
  update(done: number): void {
    this.#done = done
    this.#draw(false)
  }

  /** Erases the line; call before printing results on stdout/stderr and at the end. */
  clear(): void {
    if (!this.#enabled || !this.#drawn) return
    this.#stream.write('\r\x1b[2K')
    this.#drawn = false
  }

  #draw(force: boolean): void {
    if (!this.#enabled) return
    const now = Date.now()
    if (!force && now - this.#lastDraw < 100) return
    this.#lastDraw = now
    const width = 30
    let line: string
    if (this.#total !== null && this.#total > 0) {
      const ratio = Math.min(1, this.#done / this.#total)
      const filled = Math.round(ratio * width)
      line = `${this.#label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${formatCount(this.#done)}/${formatCount(this.#total)}`
    } else {
      line = `${this.#label} ${formatCount(this.#done)}`
    }
    this.#stream.write(`\r\x1b[2K${line}`)
    this.#drawn = true
  }
}

function formatCount(n: number): string {
  return n >= 10_000 ? n.toLocaleString('en-US') : String(n)
}
