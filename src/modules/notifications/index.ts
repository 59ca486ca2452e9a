import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { notificationsRoutes } from './notifications.routes.js';

export function notificationsModule(deps: ModuleDeps): ApiModule {
  return { name: 'notifications', basePath: '/admin', tag: 'Email', routes: notificationsRoutes(deps) };
}

export { createMailer, maskSmtpUrl, type Mailer } from './notifications.mailer.js';
export { EMAIL_QUEUE, emailConsumer, requeueLostEmails, sendEmailMessage } from './notifications.outbox.js';
export { renderEmail } from './notifications.layout.js';
