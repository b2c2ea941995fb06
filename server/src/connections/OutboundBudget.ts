/** Limits of an {@link OutboundBudget}, in bytes. */
export interface OutboundLimits {
  /** Unsent bytes the relay may hold for all client sockets together. */
  maxBytes: number
  /** Unsent bytes the relay may hold for the client sockets of one remote IP address. */
  maxBytesPerIp: number
}

/** Which budget a reservation found full. */
export type OutboundScope = 'total' | 'ip'

/** What the budget reports to whoever watches it (the relay's metrics). */
export interface OutboundObserver {
  /** A socket was given up to make room in `scope`. */
  onEvicted?(scope: OutboundScope): void
}

/**
 * The unsent bytes of one client socket, as its {@link OutboundBudget} counts them. Bytes are
 * reserved before a frame is handed to `ws.send` and released by the callback `ws.send` calls once
 * the frame has been written to the OS socket (or dropped with it), so the count is exactly the
 * memory the relay pins for a reader that does not read.
 */
export class OutboundAccount {
  /** Bytes handed to `ws.send` and not yet written to the OS socket. */
  bytes = 0
  /** False once closed or evicted: the socket's buffers are gone and nothing more is counted. */
  open = true

  constructor(
    private readonly budget: OutboundBudget,
    /** Remote IP address of the socket. */
    readonly ip: string,
    /** Called when the budget gives this socket up; it must close and terminate the socket. */
    readonly evict: () => void,
  ) {}

  /**
   * Reserves `n` bytes for a frame about to be sent. When the frame does not fit, the newest
   * sockets holding unsent bytes in the full scope are evicted until it does (see
   * {@link OutboundBudget}). Returns the callback to pass to `ws.send`, which releases the bytes;
   * or null when this socket itself had to go (the caller closes it; nothing is counted).
   */
  reserve(n: number): (() => void) | null {
    if (!this.budget.reserve(this, n)) return null
    let done = false
    return () => {
      if (done) return
      done = true
      this.budget.release(this, n)
    }
  }

  /** The socket is gone (its 'close' event): everything it still held is released. */
  close(): void {
    this.budget.forget(this)
  }
}

/**
 * Bounds the memory a relay spends on outbound WebSocket buffers, for all client sockets together
 * and per remote IP address, on top of the per-socket `--max-buffered-bytes`: many readers that
 * ask for a large document and never read would otherwise each pin up to the per-socket bound.
 *
 * When a frame does not fit, the budget frees room by evicting the most recently connected sockets
 * that hold unsent bytes in the scope that is full (every socket for the total, the same IP for the
 * per-IP budget), the sending socket included; a sender that holds nothing yet is never the one
 * given up for others' buffers, so a well-behaved client can still sync a large document while
 * readers that stopped reading hold the budget. Newest first, because during an attack the
 * sockets that arrived last are the attacker's, while the clients that were already connected
 * keep their data. An evicted socket is closed (4500: retry later) and terminated at once, so its
 * buffers are freed now rather than after the close handshake it would never read.
 */
export class OutboundBudget {
  /** Every open account, in connection order (newest last). */
  readonly #accounts = new Set<OutboundAccount>()
  readonly #perIp = new Map<string, number>()
  #total = 0

  constructor(
    readonly limits: OutboundLimits,
    private readonly observer: OutboundObserver = {},
  ) {}

  /** Bytes currently held for all sockets together (read when metrics are scraped: no per-frame cost). */
  get bufferedBytes(): number {
    return this.#total
  }

  /** Bytes currently held for the sockets of `ip`. */
  bufferedBytesOf(ip: string): number {
    return this.#perIp.get(ip) ?? 0
  }

  /** Opens the account of a new socket from `ip`; `evict` closes and terminates that socket. */
  open(ip: string, evict: () => void): OutboundAccount {
    const account = new OutboundAccount(this, ip, evict)
    this.#accounts.add(account)
    return account
  }

  /** See {@link OutboundAccount.reserve}. */
  reserve(account: OutboundAccount, n: number): boolean {
    if (!account.open) return false
    const { maxBytes, maxBytesPerIp } = this.limits
    // A frame larger than a whole budget could never be sent, whoever else went.
    if (n > maxBytes || n > maxBytesPerIp) {
      this.forget(account)
      return false
    }
    const victims: OutboundAccount[] = []
    if (this.bufferedBytesOf(account.ip) + n > maxBytesPerIp) {
      this.#makeRoom(account, victims, 'ip', () => this.bufferedBytesOf(account.ip) + n <= maxBytesPerIp)
    }
    if (account.open && this.#total + n > maxBytes) {
      this.#makeRoom(account, victims, 'total', () => this.#total + n <= maxBytes)
    }
    if (account.open) {
      account.bytes += n
      this.#total += n
      this.#perIp.set(account.ip, this.bufferedBytesOf(account.ip) + n)
    }
    // Evicted sockets are closed only once the counts are settled: closing one detaches it from
    // its document, which may send frames (awareness removals) and so reserve again.
    for (const victim of victims) if (victim !== account) victim.evict()
    return account.open
  }

  /** Releases `n` bytes of `account` (its frame was written, or dropped with the socket). */
  release(account: OutboundAccount, n: number): void {
    if (!account.open) return
    account.bytes -= n
    this.#subtract(account.ip, n)
  }

  /** Closes `account`, releasing everything it held; later releases of it are ignored. */
  forget(account: OutboundAccount): void {
    if (!account.open) return
    account.open = false
    this.#accounts.delete(account)
    if (account.bytes > 0) this.#subtract(account.ip, account.bytes)
    account.bytes = 0
  }

  #subtract(ip: string, n: number): void {
    this.#total -= n
    const left = this.bufferedBytesOf(ip) - n
    if (left <= 0) this.#perIp.delete(ip)
    else this.#perIp.set(ip, left)
  }

  /** Evicts the newest holders in `scope` (the sender among them) until `fits()`. */
  #makeRoom(
    sender: OutboundAccount,
    victims: OutboundAccount[],
    scope: OutboundScope,
    fits: () => boolean,
  ): void {
    const accounts = [...this.#accounts]
    for (let i = accounts.length - 1; i >= 0 && !fits(); i--) {
      const account = accounts[i]!
      if (account.bytes === 0 || (scope === 'ip' && account.ip !== sender.ip)) continue
      this.forget(account)
      victims.push(account)
      this.observer.onEvicted?.(scope)
    }
  }
}
