import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { walletRoutes } from './wallet.routes.js';

export function walletModule(deps: ModuleDeps): ApiModule {
  return { name: 'wallet', basePath: '/', tag: 'Wallet', routes: walletRoutes(deps) };
}

export { charge, closePending, createPending, ensureWallet, postEntry, settlePending, type LedgerRow } from './wallet.ledger.js';
export { afterCredit, creditedEvent, toTransactionView } from './wallet.service.js';
