/** The closed set of error codes the API can answer with. Only http-status.ts knows their HTTP numbers. */
export const ERROR_CODES = [
  'VALIDATION_ERROR',
  'INVALID_JSON',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAUTHORIZED',
  'INVALID_TOKEN',
  'TOKEN_EXPIRED',
  'INVALID_CREDENTIALS',
  'ACCOUNT_DISABLED',
  'FORBIDDEN',
  'NOT_FOUND',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CONFLICT',
  'INSUFFICIENT_BALANCE',
  'ALREADY_SUBSCRIBED',
  'SOLD_OUT',
  'NO_CAPACITY',
  'INVALID_STATE',
  'SERVICE_NOT_DEPLOYABLE',
  'PAYMENT_PROVIDER_DISABLED',
  'PAYMENT_PROVIDER_ERROR',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldError {
  field: string;
  message: string;
}

/** The one error type of the codebase: services throw it, the error middleware maps it. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;

export const badRequest = (message: string, errors?: FieldError[]) => new AppError('VALIDATION_ERROR', message, { errors });
export const fieldError = (field: string, message: string) => badRequest(message, [{ field, message }]);
export const unauthorized = (message = 'Authentication required') => new AppError('UNAUTHORIZED', message);
export const invalidToken = (message = 'Invalid or expired token') => new AppError('INVALID_TOKEN', message);
export const forbidden = (message = 'You do not have permission to perform this action') => new AppError('FORBIDDEN', message);
export const notFound = (resource: string, id?: string) =>
  new AppError('NOT_FOUND', id === undefined ? `${capitalize(resource)} not found` : `${capitalize(resource)} '${id}' not found`);
export const conflict = (field: string, message?: string) =>
  new AppError('CONFLICT', message ?? `A record with this ${field} already exists`, { errors: [{ field, message: `${field} is already taken` }] });
export const unavailable = (message = 'The service is temporarily unavailable') => new AppError('SERVICE_UNAVAILABLE', message);

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
