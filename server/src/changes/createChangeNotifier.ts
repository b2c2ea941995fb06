import type { Logger } from '../logger.js'
import { PeerLink } from '../mesh/PeerLink.js'
import type { RelayMetrics } from '../metrics.js'
import type { RelayOptions } from '../options.js'
import { WebhookNotifier } from '../webhooks/WebhookNotifier.js'
import { ChangeNotifier } from './ChangeNotifier.js'
import { originClassifier } from './changeOrigin.js'

/**
 * Where durable changes go (docs/PROTOCOL.md section 10): the app's `onChange` hook and, when the
 * relay has `--webhook`, the webhook for changes it received first-hand (not from a peer).
 */
export function createChangeNotifier(
  options: Pick<RelayOptions, 'webhook' | 'webhookSecret' | 'onChange'>,
  relayId: string,
  log: Logger,
  metrics: RelayMetrics,
): { changes: ChangeNotifier; webhook: WebhookNotifier | null } {
  const webhook =
    options.webhook && options.webhookSecret
      ? new WebhookNotifier({
          url: options.webhook,
          secret: options.webhookSecret,
          relayId,
          log,
          registry: metrics.registry,
        })
      : null
  const changes = new ChangeNotifier({
    onChange: options.onChange,
    webhook,
    log,
    classify: originClassifier((origin) => origin instanceof PeerLink),
  })
  return { changes, webhook }
}
