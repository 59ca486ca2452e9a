import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { walletRoutes } from './wallet.routes.js';
import { NOTIFICATION_PATH, topupRoutes } from './wallet.topups.routes.js';

export function walletModule(deps: ModuleDeps): ApiModule {
  return {
    name: 'wallet',
    basePath: '/',
    tag: 'Wallet',
    routes: [...walletRoutes(deps), ...topupRoutes(deps)],
    // Midtrans' notifications come from a few shared addresses; the route has a wider limit of its own.
    rateLimitExempt: [new RegExp(`^${NOTIFICATION_PATH}/?$`)],
  };
}

export { balanceOf, charge, closePending, createPending, ensureWallet, ensureWalletSql, entryValues, insufficientBalance, POST_ENTRY_CTES, postEntry, settlePending, type LedgerRow } from './wallet.ledger.js';
export { afterCredit, creditedEvent, toTransactionView } from './wallet.service.js';
export { createMidtransClient, type MidtransClient } from './wallet.midtrans.js';
export { expireTopups } from './wallet.topups.js';
