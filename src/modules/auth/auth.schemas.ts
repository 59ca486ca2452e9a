import { z } from '../../lib/zod.js';
import { emailSchema, nameSchema, userViewSchema, userWithCountSchema } from './auth.accounts.js';
import { passwordSchema } from './auth.passwords.js';

const sameAs = (field: string, other: string) => ({ message: `${field} must match ${other}`, path: [field] });

export const registerBody = z
  .strictObject({ name: nameSchema, email: emailSchema, password: passwordSchema, confirmPassword: z.string() })
  .refine((b) => b.password === b.confirmPassword, sameAs('confirmPassword', 'password'))
  .openapi('RegisterRequest');

// Login takes any password: the policy applies when one is set, and old accounts must still get in.
export const loginBody = z.strictObject({ email: emailSchema, password: z.string().min(1).max(1024) }).openapi('LoginRequest');

export const refreshTokenBody = z.strictObject({ refreshToken: z.string().min(1).max(512) }).openapi('RefreshTokenRequest');

export const updateProfileBody = z
  .strictObject({
    name: nameSchema.optional(),
    email: emailSchema.optional(),
    currentPassword: z.string().min(1).max(1024).optional().openapi({ description: 'Required when the email changes' }),
  })
  .refine((b) => b.name !== undefined || b.email !== undefined, { message: 'Send at least one of name, email' })
  .openapi('UpdateProfileRequest');

export const changePasswordBody = z
  .strictObject({ currentPassword: z.string().min(1).max(1024), newPassword: passwordSchema, confirmNewPassword: z.string() })
  .refine((b) => b.newPassword === b.confirmNewPassword, sameAs('confirmNewPassword', 'newPassword'))
  .refine((b) => b.newPassword !== b.currentPassword, { message: 'The new password must differ from the current one', path: ['newPassword'] })
  .openapi('ChangePasswordRequest');

const emailToken = z.string().trim().min(20).max(128).openapi({ description: 'The token from the link in the email' });

export const verifyEmailBody = z.strictObject({ token: emailToken }).openapi('VerifyEmailRequest');

export const forgotPasswordBody = z.strictObject({ email: emailSchema }).openapi('ForgotPasswordRequest');

export const resetPasswordBody = z
  .strictObject({ token: emailToken, newPassword: passwordSchema, confirmNewPassword: z.string() })
  .refine((b) => b.newPassword === b.confirmNewPassword, sameAs('confirmNewPassword', 'newPassword'))
  .openapi('ResetPasswordRequest');

export const tokensSchema = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().openapi({ description: 'Seconds until the access token expires' }),
    refreshExpiresIn: z.number().int().openapi({ description: 'Seconds until the refresh token expires' }),
  })
  .openapi('Tokens');

export const sessionSchema = z.object({ user: userViewSchema, tokens: tokensSchema });
export const tokensOnlySchema = z.object({ tokens: tokensSchema });
export const meSchema = z.object({ user: userViewSchema, authenticated: z.literal(true) });
export { userViewSchema, userWithCountSchema };
